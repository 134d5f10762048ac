/**
 * What the node and token registries need from the replicated store: the subset of
 * the resource store's backend (packages/master/src/resources/backend.ts) that reads
 * the applied state, waits for a linearizable read, and writes a txn through the log.
 */
import type { ResourceBackend } from '../resources/backend.js';

export type NodeStateBackend = Pick<ResourceBackend, 'range' | 'linearizableRead' | 'txn'>;
