// Shared pieces of the master process tests: starting a cluster that is always torn
// down, bounded-concurrency loops, background writers that rotate endpoints, and
// whole-prefix reads.
import { afterEach } from 'vitest';
import { ProcessCluster, type ProcessClusterOptions, type RawClient, type Reply } from '@bramble/testkit';

// Every cluster a test starts is destroyed after it, pass or fail.
const started: ProcessCluster[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.destroy()));
});

/** Start a ProcessCluster that is destroyed (every process killed) after the current test. */
export async function startCluster(opts: ProcessClusterOptions): Promise<ProcessCluster> {
  const cluster = await ProcessCluster.start({ logLevel: 'info', ...opts });
  started.push(cluster);
  return cluster;
}

/** Run `fn` over `items` with at most `concurrency` calls in flight. */
export async function mapPool<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

export interface KvRecord {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export function kvRecord(kv: Reply): KvRecord {
  return {
    key: Buffer.from(kv.key).toString(),
    value: Buffer.from(kv.value).toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
}

/** Every key under `prefix` as one member sees it (linearizable unless `serializable`). */
export async function readPrefix(client: RawClient, prefix: string, opts: { serializable?: boolean } = {}): Promise<KvRecord[]> {
  const res = await client.get(prefix, { prefix: true, serializable: opts.serializable }, 10_000);
  return (res.kvs as Reply[]).map(kvRecord);
}

/** A short pause between retries (back-off), never used to wait for a condition. */
export function backoff(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Ack {
  key: string;
  value: string;
  /** When the successful attempt was sent. */
  sentAtMs: number;
  member: string;
  revision: number;
}

/**
 * `writers` concurrent loops, each putting unique keys `${prefix}/${writer}/${n}`.
 * A failed put is retried on the next running member (the same key and value when
 * `retrySameKey`, else a fresh key, so that every applied attempt is its own key),
 * until stop() is called. Only acknowledged puts are recorded.
 */
export class BackgroundWriters {
  readonly acks: Ack[] = [];
  readonly errors: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly cluster: ProcessCluster,
    readonly opts: { prefix: string; writers: number; timeoutMs?: number; retrySameKey?: boolean },
  ) {
    this.loops = Array.from({ length: opts.writers }, (_, w) => this.loop(w));
  }

  private async loop(w: number): Promise<void> {
    let n = 0;
    let endpoint = w;
    let key = `${this.opts.prefix}/${w}/${n}`;
    while (this.running) {
      const members = this.cluster.running();
      if (members.length === 0) {
        await backoff(20);
        continue;
      }
      const member = members[endpoint % members.length];
      const value = `value-of-${key}`;
      const sentAtMs = Date.now();
      try {
        const res = await this.cluster.client(member).put(key, value, this.opts.timeoutMs ?? 2000);
        this.acks.push({ key, value, sentAtMs, member, revision: Number(res.header.revision) });
        key = `${this.opts.prefix}/${w}/${++n}`;
      } catch (err) {
        this.errors.push(`${member}: ${(err as Error).message}`);
        endpoint++;
        if (!this.opts.retrySameKey) key = `${this.opts.prefix}/${w}/${++n}`;
        await backoff(20);
      }
    }
  }

  ackedSince(ms: number): number {
    return this.acks.filter((a) => a.sentAtMs >= ms).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** GET an HTTP path on a member's --http address. */
export async function httpGet(address: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

/** The gRPC status code and details of a rejected call. */
export async function rejection(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; details?: string; message: string };
    return { code: e.code ?? -1, details: e.details ?? e.message };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
