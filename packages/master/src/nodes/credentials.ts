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
  /** node -> the stored hash and the mod revision it was read at (re-read only when the key changed). */
  private readonly cache = new Map<string, { modRevision: number; secretSha256: string }>();

  constructor(
    private readonly backend: NodeStateBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether `credential` is the one registered for `node`. Reads the locally applied
   * key (cheap; the decoded hash is cached per mod revision), and linearizably when the
   * local copy does not agree (a follower may not have applied a fresh join yet).
   */
  async check(node: string, credential: string): Promise<CredentialCheck> {
    const digest = sha256Hex(credential);
    let stored = this.read(node);
    if (stored === undefined || !sameDigest(digest, stored)) {
      await this.backend.linearizableRead();
      stored = this.read(node);
    }
    if (stored === undefined) return 'unregistered';
    return credential !== '' && sameDigest(digest, stored) ? 'ok' : 'mismatch';
  }

  /**
   * Registers a credential for `node` if it has none: `proposed` (the agent's own, as k3s
   * agents generate their node password) or a fresh one. Returns it, or undefined when one exists.
   */
  async claim(node: string, proposed?: string): Promise<string | undefined> {
    const secret = proposed || randomBytes(24).toString('hex');
    const value: StoredCredential = { secretSha256: sha256Hex(secret), created: new Date(this.now()).toISOString() };
    const key = CREDENTIALS_PREFIX + node;
    const outcome = await this.backend.txn([{ key, target: 'createRevision', result: '=', revision: 0 }], [{ put: { key, value: JSON.stringify(value) } }]);
    return outcome.succeeded ? secret : undefined;
  }

  /** Undoes `claim` (the join failed after it): deletes the credential only if it is still `secret`'s. */
  async release(node: string, secret: string): Promise<void> {
    const key = CREDENTIALS_PREFIX + node;
    const kv = this.backend.range(key).kvs[0];
    if (!kv || !sameDigest(decode(kv.value, key).secretSha256, sha256Hex(secret))) return;
    await this.backend.txn([{ key, target: 'modRevision', result: '=', revision: kv.modRevision }], [{ deleteRange: { key } }]);
  }

  /**
   * Deletes the credentials of nodes whose Node object is gone (an admin deleted it),
   * as k3s deletes a removed node's password secret: the name is free to join again.
   * Only credentials older than `minAgeMs` go, so a join between its credential and its
   * Node write is never undone. Returns how many were deleted.
   */
  async sweepOrphans(liveNodes: ReadonlySet<string>, minAgeMs: number): Promise<number> {
    await this.backend.linearizableRead();
    let deleted = 0;
    for (const kv of this.backend.range(CREDENTIALS_PREFIX, { prefix: true }).kvs) {
      const node = kv.key.slice(CREDENTIALS_PREFIX.length);
      if (liveNodes.has(node)) continue;
      const created = Date.parse(decode(kv.value, kv.key).created);
      if (!(this.now() - created >= minAgeMs)) continue;
      const r = await this.backend.txn([{ key: kv.key, target: 'modRevision', result: '=', revision: kv.modRevision }], [{ deleteRange: { key: kv.key } }]);
      if (r.succeeded) deleted++;
    }
    return deleted;
  }

  private read(node: string): string | undefined {
    const key = CREDENTIALS_PREFIX + node;
    const kv = this.backend.range(key).kvs[0];
    if (!kv) {
      this.cache.delete(node);
      return undefined;
    }
    const cached = this.cache.get(node);
    if (cached && cached.modRevision === kv.modRevision) return cached.secretSha256;
    const secretSha256 = decode(kv.value, key).secretSha256;
    this.cache.set(node, { modRevision: kv.modRevision, secretSha256 });
    return secretSha256;
  }
}

function decode(value: string, key: string): StoredCredential {
  try {
    return JSON.parse(value) as StoredCredential;
  } catch (err) {
    throw new ApiError('InternalError', `${key}: stored node credential is not JSON: ${(err as Error).message}`);
  }
}
