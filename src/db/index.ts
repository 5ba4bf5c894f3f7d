export * from './knex.js';
export * from './target.js';
export * from './tables.js';
export * from './rows.js';
export * from './sql.js';
export * from './teampass-schema.js';
export * from './misc.js';
export * from './events.js';
