export * from './codes.js';
export * from './client-messages.js';
export * from './server-frames.js';
export * from './validate.js';
export * from './event-types.js';
