/**
 * Node credentials (k3s keeps the same idea as its node-password secrets): the first
 * agent to join under a node name gets a random secret, whose sha256 is stored at
 * `/bramble/node-credentials/<node>`; later joins and every heartbeat under that
 * name must present it, so one agent cannot take over another's node by name.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '@bramble/api';
import { sameDigest, sha256Hex } from './tokens.js';
import type { NodeStateBackend } from './state-backend.js';

export const CREDENTIALS_PREFIX = '/bramble/node-credentials/';

export type CredentialCheck = 'ok' | 'unregistered' | 'mismatch';

interface StoredCredential {
  secretSha256: string;
  created: string;
}

export class NodeCredentials {
  /** node -> sha256 of its credential, as last read from the store. */
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly backend: NodeStateBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether `credential` is the one registered for `node`. The hash is cached; the
   * store is read on a miss or a mismatch, linearizably when the local copy does not
   * agree (a follower may not have applied a fresh join yet).
   */
  async check(node: string, credential: string): Promise<CredentialCheck> {
    const digest = sha256Hex(credential);
    const cached = this.cache.get(node);
    if (cached !== undefined && credential !== '' && sameDigest(digest, cached)) return 'ok';
    let stored = this.read(node);
    if (stored === undefined || !sameDigest(digest, stored)) {
      await this.backend.linearizableRead();
      stored = this.read(node);
    }
    if (stored === undefined) {
      this.cache.delete(node);
      return 'unregistered';
    }
    this.cache.set(node, stored);
    return credential !== '' && sameDigest(digest, stored) ? 'ok' : 'mismatch';
  }

  /** Registers a fresh credential for `node` if it has none; returns it, or undefined when one exists. */
  async claim(node: string): Promise<string | undefined> {
    const secret = randomBytes(24).toString('hex');
    const value: StoredCredential = { secretSha256: sha256Hex(secret), created: new Date(this.now()).toISOString() };
    const key = CREDENTIALS_PREFIX + node;
    const outcome = await this.backend.txn([{ key, target: 'createRevision', result: '=', revision: 0 }], [{ put: { key, value: JSON.stringify(value) } }]);
    if (!outcome.succeeded) return undefined;
    this.cache.set(node, value.secretSha256);
    return secret;
  }

  /** Undoes `claim` (the join failed after it): deletes the credential only if it is still `secret`'s. */
  async release(node: string, secret: string): Promise<void> {
    const key = CREDENTIALS_PREFIX + node;
    const kv = this.backend.range(key).kvs[0];
    this.cache.delete(node);
    if (!kv || !sameDigest(decode(kv.value, key).secretSha256, sha256Hex(secret))) return;
    await this.backend.txn([{ key, target: 'modRevision', result: '=', revision: kv.modRevision }], [{ deleteRange: { key } }]);
  }

  private read(node: string): string | undefined {
    const key = CREDENTIALS_PREFIX + node;
    const kv = this.backend.range(key).kvs[0];
    return kv ? decode(kv.value, key).secretSha256 : undefined;
  }
}

function decode(value: string, key: string): StoredCredential {
  try {
    return JSON.parse(value) as StoredCredential;
  } catch (err) {
    throw new ApiError('InternalError', `${key}: stored node credential is not JSON: ${(err as Error).message}`);
  }
}
