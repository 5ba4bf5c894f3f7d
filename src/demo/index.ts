export * from './banner.js';
export * from './dataset.js';
export * from './emit.js';
export * from './page.js';
export * from './prepare.js';
export * from './routes.js';
