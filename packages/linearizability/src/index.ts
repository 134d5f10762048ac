// @bramble/linearizability: a Wing–Gong–Lowe linearizability checker, a key-value
// model and a history recorder. See README.md.

export type { CheckOptions, CheckResult, Model, Operation, Violation } from './types.js';
export { checkOperations, DEFAULT_TIMEOUT_MS, MAX_SHRINK_MS } from './check.js';
export { formatViolation } from './format.js';
export { kvModel, type KvInput, type KvOperation, type KvOutput, type KvState } from './kv.js';
export { HistoryRecorder } from './recorder.js';
