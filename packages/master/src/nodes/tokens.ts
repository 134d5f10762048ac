/**
 * Join tokens, like kubeadm's bootstrap tokens: `<id>.<secret>`, id `[a-z0-9]{6}`,
 * secret `[a-z0-9]{16}`. Stored under `/bramble/tokens/<id>` as JSON with the
 * secret's sha256 only, so a copy of the store (or a snapshot) does not let anyone join.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { ApiError } from '@bramble/api';
import { prefixEnd } from '@bramble/kv';
import { NodeAuthError } from './errors.js';
import type { NodeStateBackend } from './state-backend.js';

export const TOKENS_PREFIX = '/bramble/tokens/';
const ID_PATTERN = /^[a-z0-9]{6}$/;
const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Longest description kept (it is shown in `bramble token list`). */
export const MAX_TOKEN_DESCRIPTION = 256;

/** A token as listed (the same shape as TokenInfo of @bramble/client). */
export interface TokenInfo {
  id: string;
  description: string;
  /** RFC 3339, '' = never. */
  expires: string;
  created: string;
}

/** What is stored for a token (never the secret). */
export interface TokenRecord {
  id: string;
  secretSha256: string;
  description: string;
  /** RFC 3339. */
  created: string;
  /** RFC 3339, '' = never. */
  expires: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function randomString(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function generateJoinToken(): string {
  return `${randomString(6)}.${randomString(16)}`;
}

/** Splits a token; throws ApiError BadRequest (gRPC INVALID_ARGUMENT) naming what is wrong. */
export function parseJoinToken(token: string, field = 'token'): { id: string; secret: string } {
  const m = TOKEN_PATTERN.exec(token);
  if (!m) {
    const shown = token.length > 40 ? `${token.slice(0, 40)}...` : token;
    const why = token === '' ? 'is empty' : `${JSON.stringify(token.includes('.') ? `${shown.split('.')[0]}.<secret>` : '<redacted>')} is not <id>.<secret>`;
    throw new ApiError('BadRequest', `${field}: ${why} (a join token looks like abcdef.0123456789abcdef: 6 then 16 characters of [a-z0-9])`);
  }
  return { id: m[1], secret: m[2] };
}

export function checkTokenId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new ApiError('BadRequest', `token id ${JSON.stringify(id)}: must be 6 characters of [a-z0-9]`);
}

export function tokenInfo(r: TokenRecord): TokenInfo {
  return { id: r.id, description: r.description, expires: r.expires, created: r.created };
}

function decodeRecord(value: string, key: string): TokenRecord {
  try {
    return JSON.parse(value) as TokenRecord;
  } catch (err) {
    throw new ApiError('InternalError', `${key}: stored join token is not JSON: ${(err as Error).message}`);
  }
}

export interface TokenRegistryOptions {
  /** Wall clock (ms since the epoch): tokens expire at a calendar time. */
  now?: () => number;
}

/** Join tokens in the replicated store. */
export class TokenRegistry {
  private readonly now: () => number;

  constructor(
    private readonly backend: NodeStateBackend,
    options: TokenRegistryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A new random token; returns it (the only time its secret is seen) and its info. */
  async create(options: { ttlSeconds?: number; description?: string } = {}): Promise<{ token: string; info: TokenInfo }> {
    const ttl = options.ttlSeconds ?? 0;
    if (!Number.isSafeInteger(ttl) || ttl < 0) throw new ApiError('BadRequest', `ttl_seconds: must be a non-negative integer (got ${ttl}); 0 = never expires`);
    const description = options.description ?? '';
    if (description.length > MAX_TOKEN_DESCRIPTION) {
      throw new ApiError('BadRequest', `description: must be at most ${MAX_TOKEN_DESCRIPTION} characters (got ${description.length})`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = generateJoinToken();
      const record = this.record(token, description, ttl);
      if (await this.put(record, true)) return { token, info: tokenInfo(record) };
    }
    throw new ApiError('InternalError', 'could not pick an unused token id in 5 attempts');
  }

  /**
   * Stores `token` unless its id is already there (`--join-token` on a master). Returns
   * false when the id exists (with this or another secret: an existing token is never replaced).
   */
  async ensure(token: string, description: string): Promise<boolean> {
    parseJoinToken(token, '--join-token');
    return this.put(this.record(token, description, 0), true);
  }

  /**
   * Stores `token` only if there is no token at all (the first leader of a cluster started
   * without --join-token). True when it was stored.
   */
  async createIfNoneExist(token: string, description: string): Promise<boolean> {
    const record = this.record(token, description, 0);
    const key = TOKENS_PREFIX + record.id;
    const outcome = await this.backend.txn(
      [{ key: TOKENS_PREFIX, rangeEnd: prefixEnd(TOKENS_PREFIX), target: 'createRevision', result: '=', revision: 0 }],
      [{ put: { key, value: JSON.stringify(record) } }],
    );
    return outcome.succeeded;
  }

  async list(): Promise<TokenInfo[]> {
    await this.backend.linearizableRead();
    return this.backend
      .range(TOKENS_PREFIX, { prefix: true })
      .kvs.map((kv) => tokenInfo(decodeRecord(kv.value, kv.key)))
      .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  }

  /** NotFound when there is no such token. */
  async delete(id: string): Promise<void> {
    checkTokenId(id);
    const key = TOKENS_PREFIX + id;
    const outcome = await this.backend.txn(
      [{ key, target: 'createRevision', result: '>', revision: 0 }],
      [{ deleteRange: { key } }],
    );
    if (!outcome.succeeded) throw new ApiError('NotFound', `join token ${JSON.stringify(id)} not found`);
  }

  /** Throws NodeAuthError (UNAUTHENTICATED) saying why `token` may not join; BadRequest if malformed. */
  async verify(token: string): Promise<TokenRecord> {
    const { id, secret } = parseJoinToken(token);
    await this.backend.linearizableRead();
    const kv = this.backend.range(TOKENS_PREFIX + id).kvs[0];
    if (!kv) throw new NodeAuthError(`join token "${id}": unknown token id`);
    const record = decodeRecord(kv.value, kv.key);
    if (!sameDigest(sha256Hex(secret), record.secretSha256)) throw new NodeAuthError(`join token "${id}": wrong secret`);
    if (record.expires && Date.parse(record.expires) <= this.now()) throw new NodeAuthError(`join token "${id}": expired at ${record.expires}`);
    return record;
  }

  private record(token: string, description: string, ttlSeconds: number): TokenRecord {
    const { id, secret } = parseJoinToken(token);
    const now = this.now();
    return {
      id,
      secretSha256: sha256Hex(secret),
      description,
      created: new Date(now).toISOString(),
      expires: ttlSeconds > 0 ? new Date(now + ttlSeconds * 1000).toISOString() : '',
    };
  }

  /** Put if absent (`onlyIfAbsent`); true when written. */
  private async put(record: TokenRecord, onlyIfAbsent: boolean): Promise<boolean> {
    const key = TOKENS_PREFIX + record.id;
    const outcome = await this.backend.txn(
      onlyIfAbsent ? [{ key, target: 'createRevision', result: '=', revision: 0 }] : [],
      [{ put: { key, value: JSON.stringify(record) } }],
    );
    return outcome.succeeded;
  }
}
