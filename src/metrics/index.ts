export * from './metrics.js';
export * from './http.js';
