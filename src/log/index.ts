export * from './logger.js';
export * from './redact.js';
export { prepareLogFile } from './log-path.js';
export { RepeatedFailureLog } from './repeated.js';
