// A watch on the chaos prefix that survives failures: when its stream breaks (or the master
// cancels it, e.g. after installing a snapshot) it is created again, on its home member or
// the next one, from the last revision seen + 1. Everything received is kept as it came,
// duplicates and gaps included: the checks decide whether the stream was right.
import type * as grpc from '@grpc/grpc-js';
import { errorText, prefixEnd, type Conns, type Reply } from './rpc.js';

export interface WatchedEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The member whose stream delivered it. */
  member: string;
}

export interface WatchReconnect {
  atMs: number;
  member: string;
  fromRevision: number;
  reason: string;
}

export class ResumingWatch {
  readonly events: WatchedEvent[] = [];
  readonly reconnects: WatchReconnect[] = [];
  /** Cancellations that a resume cannot fix (compaction), and other problems. */
  readonly problems: string[] = [];
  /** The highest revision received so far. */
  lastRevision: number;
  private call: grpc.ClientDuplexStream<object, Reply> | undefined;
  private closed = false;
  private failures = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly home: string,
    private readonly members: string[],
    private readonly conns: Conns,
    readonly prefix: string,
    readonly startRevision: number,
    private readonly now: () => number,
  ) {
    this.lastRevision = startRevision - 1;
  }

  start(): void {
    this.open(this.home, 'start');
  }

  /** The member to try after `failures` consecutive failures: home first, then the others in turn. */
  private memberFor(failures: number): string {
    const ring = [this.home, ...this.members.filter((m) => m !== this.home)];
    return ring[failures % ring.length];
  }

  private open(member: string, reason: string): void {
    if (this.closed) return;
    const attempt = ++this.attempt;
    const from = this.lastRevision + 1;
    this.reconnects.push({ atMs: this.now(), member, fromRevision: from, reason });
    const conn = this.conns.get(member);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = (conn.kv as any).Watch() as grpc.ClientDuplexStream<object, Reply>;
    this.call = call;
    let ended = false;
    const broken = (why: string): void => {
      if (ended || attempt !== this.attempt) return;
      ended = true;
      call.cancel();
      this.retry(why);
    };
    call.on('data', (res: Reply) => {
      if (attempt !== this.attempt) return;
      if (res.created) this.failures = 0;
      for (const e of (res.events ?? []) as Reply[]) {
        const ev: WatchedEvent = {
          type: e.type === 'DELETE' ? 'DELETE' : 'PUT',
          key: Buffer.from(e.kv.key).toString(),
          value: Buffer.from(e.kv.value).toString(),
          createRevision: Number(e.kv.create_revision),
          modRevision: Number(e.kv.mod_revision),
          version: Number(e.kv.version),
          member,
        };
        this.events.push(ev);
        this.lastRevision = Math.max(this.lastRevision, ev.modRevision);
      }
      if (res.canceled) {
        const compacted = Number(res.compact_revision ?? 0);
        if (compacted > 0) {
          this.problems.push(`watch ${this.id} on ${member}: compacted at revision ${compacted}: ${res.cancel_reason}`);
          ended = true;
          call.cancel();
          return;
        }
        broken(`canceled by ${member}: ${res.cancel_reason}`);
      }
    });
    call.on('error', (err) => broken(`${member}: ${errorText(err)}`));
    call.on('end', () => broken(`${member} ended the stream`));
    call.write({ create_request: { key: Buffer.from(this.prefix), range_end: prefixEnd(this.prefix), start_revision: from } });
  }

  private retry(why: string): void {
    if (this.closed) return;
    this.failures++;
    const delayMs = Math.min(1000, 50 * 2 ** Math.min(this.failures, 5));
    this.timer = setTimeout(() => this.open(this.memberFor(this.failures - 1), why), delayMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
  }
}
