export * from './tokens.js';
export * from './credentials.js';
export * from './heartbeats.js';
export * from './registrar.js';
export * from './services.js';
export * from './bootstrap-token.js';
export * from './controller-loop.js';
export { NodeAuthError, toGrpcStatus, API_ERROR_TRAILER } from './errors.js';
export type { NodeStateBackend } from './state-backend.js';
