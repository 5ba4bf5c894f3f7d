export * from './identity.js';
export * from './users.js';
export * from './ws-token.js';
export * from './jwt.js';
export * from './jwt-secrets.js';
export * from './api-sessions.js';
export * from './authenticator.js';
