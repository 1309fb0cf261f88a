export * from './records.js';
export * from './worker.js';
export * from './invokeAsync.js';
export * from './submit.js';
export * from './idempotency.js';
export * from './failureLog.js';
