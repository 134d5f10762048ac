// Concurrent clients doing put, get, compare-and-set and delete on a small keyspace, each
// operation one attempt at one member, recorded for the linearizability checker (with
// monotonic timestamps) and, with its response header, for the revision checks.
import { HistoryRecorder, type KvInput, type KvOutput } from '@bramble/linearizability';
import { seededRandom } from '@bramble/raft';
import type { ReadMode, ReadTarget } from './options.js';
import { classifyFailure, errorText, sleep, type Conns, type Reply } from './rpc.js';

export type OpType = 'put' | 'get' | 'cas' | 'delete';

/** Everything known about one operation; `id` is its id in the history. */
export interface OpRecord {
  id: number;
  client: number;
  type: OpType;
  key: string;
  member: string;
  /** The member's process incarnation when the request was sent (see Nemesis.incarnation). */
  incarnation: number;
  /** The member was stopped while the request was in flight: the response belongs to no one incarnation. */
  crossedRestart?: boolean;
  callMs: number;
  returnMs?: number;
  outcome?: 'ok' | 'fail' | 'unknown';
  /** put / cas: the value written (unique in the run). */
  value?: string;
  /** cas: the value compared against (null = absent), and how. */
  expected?: string | null;
  compareBy?: 'value' | 'mod' | 'version';
  /** get: the value read (null = absent); cas: swapped; delete: deleted. */
  result?: string | null | boolean;
  /** Header revision of the response: for an effective write, the revision it created. */
  revision?: number;
  /** get: the key's mod_revision (0 = absent). */
  modRevision?: number;
  serializable?: boolean;
  /** 'final' = a read after healing, part of the history too. */
  phase: 'run' | 'final';
  error?: string;
}

/** A put, a successful cas or a delete that removed the key: it created a revision. */
export function isEffectiveWrite(r: OpRecord): boolean {
  return r.outcome === 'ok' && (r.type === 'put' || (r.type === 'cas' && r.result === true) || (r.type === 'delete' && r.result === true));
}

export interface WorkloadOptions {
  seed: number;
  clients: number;
  keys: string[];
  members: string[];
  /** Operations per second, all clients together; 0 = no pacing. */
  rate: number;
  opTimeoutMs: number;
  readMode: ReadMode;
  readsTo: ReadTarget;
}

export interface WorkloadContext {
  conns: Conns;
  /** Milliseconds since the start of the workload (monotonic: performance.now based). */
  now(): number;
  incarnation(member: string): number;
  /** Members the nemesis impairs right now. */
  impaired(): string[];
}

/** How long a client stays away from a member after a failed or unknown operation on it. */
const AVOID_MS = 500;

export class Workload {
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly records: OpRecord[] = [];
  /** Revision at which the value was written, learned from responses (for mod_revision compares). */
  private readonly revisionOf = new Map<string, number>();
  /** Recently written values per key, for compare-and-sets against values other clients wrote. */
  private readonly recentValues = new Map<string, string[]>();
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    readonly opts: WorkloadOptions,
    private readonly ctx: WorkloadContext,
  ) {
    this.history = new HistoryRecorder<KvInput, KvOutput>(() => ctx.now());
  }

  start(): void {
    this.loops = Array.from({ length: this.opts.clients }, (_, i) => this.client(i));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async client(clientId: number): Promise<void> {
    const random = seededRandom((this.opts.seed * 7919 + clientId * 104_729 + 1) >>> 0);
    const lastSeen = new Map<string, string | null>();
    const avoidUntil = new Map<string, number>();
    const intervalMs = this.opts.rate > 0 ? (1000 * this.opts.clients) / this.opts.rate : 0;
    let nextAt = this.ctx.now() + random() * intervalMs;
    let seq = 0;
    while (!this.stopped) {
      if (intervalMs > 0) {
        const waitMs = nextAt - this.ctx.now();
        if (waitMs > 0) await sleep(waitMs);
        if (this.stopped) break;
        // Behind schedule (a long timeout)? Do not burst to catch up.
        nextAt = Math.max(nextAt, this.ctx.now() - intervalMs) + intervalMs * (0.5 + random());
      }
      const roll = random();
      const type: OpType = roll < 0.4 ? 'get' : roll < 0.65 ? 'put' : roll < 0.87 ? 'cas' : 'delete';
      const key = this.opts.keys[Math.floor(random() * this.opts.keys.length)];
      const member = this.chooseMember(type, random, avoidUntil);
      const value = `c${clientId}.${++seq}`;
      const outcome = await this.operation(clientId, type, key, member, value, random, lastSeen);
      if (outcome !== 'ok') avoidUntil.set(member, this.ctx.now() + AVOID_MS);
    }
  }

  private chooseMember(type: OpType, random: () => number, avoidUntil: Map<string, number>): string {
    const members = this.opts.members;
    if (this.opts.readsTo === 'impaired') {
      // The teeth mode: reads where the nemesis is, writes where it is not.
      const impaired = new Set(this.ctx.impaired());
      const wanted = members.filter((m) => (type === 'get' ? impaired.has(m) : !impaired.has(m)));
      if (wanted.length > 0) return wanted[Math.floor(random() * wanted.length)];
    }
    const now = this.ctx.now();
    const usable = members.filter((m) => (avoidUntil.get(m) ?? 0) <= now);
    const from = usable.length > 0 ? usable : members;
    return from[Math.floor(random() * from.length)];
  }

  private casCompare(key: string, expected: string | null, random: () => number): { compare: Reply; by: 'value' | 'mod' | 'version' } {
    const k = Buffer.from(key);
    if (expected === null) {
      return random() < 0.5
        ? { compare: { result: 'EQUAL', target: 'VERSION', key: k, version: 0 }, by: 'version' }
        : { compare: { result: 'EQUAL', target: 'MOD', key: k, mod_revision: 0 }, by: 'mod' };
    }
    // Values are unique, so "mod_revision == the revision that wrote `expected`" holds exactly
    // when the key's value is `expected`: the same compare-and-set, by revision.
    const rev = this.revisionOf.get(expected);
    if (rev !== undefined && random() < 0.5) return { compare: { result: 'EQUAL', target: 'MOD', key: k, mod_revision: rev }, by: 'mod' };
    return { compare: { result: 'EQUAL', target: 'VALUE', key: k, value: Buffer.from(expected) }, by: 'value' };
  }

  private chooseExpected(key: string, random: () => number, lastSeen: Map<string, string | null>): string | null {
    const r = random();
    if (r < 0.7 && lastSeen.has(key)) return lastSeen.get(key)!;
    const recent = this.recentValues.get(key) ?? [];
    if (r < 0.85 && recent.length > 0) return recent[Math.floor(random() * recent.length)];
    return null;
  }

  private remember(key: string, value: string, revision: number | undefined): void {
    if (revision !== undefined) this.revisionOf.set(value, revision);
    const recent = this.recentValues.get(key) ?? [];
    recent.push(value);
    if (recent.length > 4) recent.shift();
    this.recentValues.set(key, recent);
  }

  /** One operation, recorded; returns its outcome. */
  async operation(
    clientId: number,
    type: OpType,
    key: string,
    member: string,
    value: string,
    random: () => number,
    lastSeen: Map<string, string | null>,
    phase: 'run' | 'final' = 'run',
  ): Promise<'ok' | 'fail' | 'unknown'> {
    const conn = this.ctx.conns.get(member);
    const k = Buffer.from(key);
    let input: KvInput;
    let send: () => Promise<Reply>;
    const record: Omit<OpRecord, 'id' | 'callMs'> = { client: clientId, type, key, member, incarnation: this.ctx.incarnation(member), phase };
    switch (type) {
      case 'get': {
        const serializable = phase === 'run' && this.opts.readMode === 'serializable';
        if (serializable) record.serializable = true;
        input = { op: 'get', key };
        send = () => conn.kvCall('Range', { key: k, serializable }, this.opts.opTimeoutMs);
        break;
      }
      case 'put':
        input = { op: 'put', key, value };
        record.value = value;
        send = () => conn.kvCall('Put', { key: k, value: Buffer.from(value) }, this.opts.opTimeoutMs);
        break;
      case 'cas': {
        const expected = this.chooseExpected(key, random, lastSeen);
        const { compare, by } = this.casCompare(key, expected, random);
        input = { op: 'cas', key, expected, value };
        Object.assign(record, { value, expected, compareBy: by });
        send = () =>
          conn.kvCall('Txn', { compare: [compare], success: [{ request_put: { key: k, value: Buffer.from(value) } }], failure: [] }, this.opts.opTimeoutMs);
        break;
      }
      case 'delete':
        input = { op: 'delete', key };
        send = () => conn.kvCall('DeleteRange', { key: k }, this.opts.opTimeoutMs);
        break;
    }
    const id = this.history.invoke(clientId, input);
    const full = record as OpRecord;
    full.id = id;
    full.callMs = this.ctx.now();
    this.records[id] = full;
    let res: Reply;
    try {
      res = await send();
    } catch (err) {
      const outcome = classifyFailure(err);
      if (outcome === 'fail') this.history.fail(id);
      else this.history.unknown(id);
      full.outcome = outcome;
      full.returnMs = this.ctx.now();
      full.error = errorText(err);
      return outcome;
    }
    const revision = Number(res.header?.revision ?? 0);
    let output: KvOutput;
    switch (type) {
      case 'get': {
        const kv = (res.kvs as Reply[] | undefined)?.[0];
        const v = kv ? Buffer.from(kv.value).toString() : null;
        output = { op: 'get', value: v };
        full.result = v;
        full.modRevision = kv ? Number(kv.mod_revision) : 0;
        lastSeen.set(key, v);
        if (kv && v !== null) this.revisionOf.set(v, Number(kv.mod_revision));
        break;
      }
      case 'put':
        output = { op: 'put' };
        lastSeen.set(key, value);
        this.remember(key, value, revision);
        break;
      case 'cas': {
        const ok = Boolean(res.succeeded);
        output = { op: 'cas', ok };
        full.result = ok;
        if (ok) {
          lastSeen.set(key, value);
          this.remember(key, value, revision);
        }
        break;
      }
      case 'delete': {
        const deleted = Number(res.deleted ?? 0) > 0;
        output = { op: 'delete', deleted };
        full.result = deleted;
        lastSeen.set(key, null);
        break;
      }
    }
    this.history.ok(id, output);
    full.outcome = 'ok';
    full.returnMs = this.ctx.now();
    full.revision = revision;
    if (this.ctx.incarnation(member) !== full.incarnation) full.crossedRestart = true;
    return 'ok';
  }

  /**
   * After healing: a linearizable get of every key on every member, as part of the history
   * (so the checker explains them too). Retries each until it succeeds, within `timeoutMs`.
   */
  async finalReads(members: string[], timeoutMs: number): Promise<{ complete: boolean }> {
    const deadline = this.ctx.now() + timeoutMs;
    let complete = true;
    await Promise.all(
      members.map(async (member, i) => {
        const lastSeen = new Map<string, string | null>();
        const random = seededRandom(i + 1);
        for (const key of this.opts.keys) {
          for (;;) {
            const outcome = await this.operation(1000 + i, 'get', key, member, '', random, lastSeen, 'final');
            if (outcome === 'ok') break;
            if (this.ctx.now() > deadline) {
              complete = false;
              break;
            }
            await sleep(100);
          }
        }
      }),
    );
    return { complete };
  }
}
