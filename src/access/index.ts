export * from './misc-settings.js';
export * from './folder-access.js';
export * from './access-cache.js';
export * from './fingerprint.js';
