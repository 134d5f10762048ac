// One raw Watch stream on one master, recording everything it receives: what a test
// compares against a full Range to prove no event was lost or delivered twice.
import type * as grpc from '@grpc/grpc-js';
import { prefixEnd, type RawClient, type Reply } from './grpc-client.js';

export interface RecordedEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** The header revision of the response that carried the event. */
  headerRevision: number;
}

export interface RawWatchOptions {
  key: string;
  /** Watch every key starting with `key`. */
  prefix?: boolean;
  /** First revision to deliver; 0 = from now. */
  startRevision?: number;
}

/**
 * A bidi Watch call with one create_request. The stream is not re-created when it
 * breaks: the test decides where to resume (`lastRevision + 1`, on another master).
 */
export class RawWatch {
  readonly events: RecordedEvent[] = [];
  /** Responses with canceled = true (the server ended this watch). */
  readonly cancels: Reply[] = [];
  /** Set when the stream failed (other than by close()). */
  error: grpc.ServiceError | undefined;
  /** Resolves with the created response; rejects if the stream fails or the watch is canceled first. */
  readonly created: Promise<Reply>;
  private readonly call: grpc.ClientDuplexStream<object, Reply>;
  private closed = false;

  constructor(
    readonly client: RawClient,
    readonly opts: RawWatchOptions,
  ) {
    let resolveCreated!: (r: Reply) => void;
    let rejectCreated!: (e: Error) => void;
    this.created = new Promise<Reply>((resolve, reject) => {
      resolveCreated = resolve;
      rejectCreated = reject;
    });
    this.created.catch(() => undefined); // observed by whoever awaits it
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    this.call = (client.kv as any).Watch() as grpc.ClientDuplexStream<object, Reply>;
    this.call.on('data', (res: Reply) => {
      if (res.created) resolveCreated(res);
      if (res.canceled) {
        this.cancels.push(res);
        rejectCreated(new Error(`watch on ${client.address} canceled: ${res.cancel_reason}`));
      }
      for (const e of res.events ?? []) {
        this.events.push({
          type: e.type,
          key: Buffer.from(e.kv.key).toString(),
          value: Buffer.from(e.kv.value).toString(),
          createRevision: Number(e.kv.create_revision),
          modRevision: Number(e.kv.mod_revision),
          headerRevision: Number(res.header?.revision ?? 0),
        });
      }
    });
    this.call.on('error', (err: grpc.ServiceError) => {
      if (!this.closed) this.error = err;
      rejectCreated(new Error(`watch on ${client.address} failed: ${err.message}`));
    });
    const key = Buffer.from(opts.key);
    this.call.write({
      create_request: {
        key,
        range_end: opts.prefix ? prefixEnd(key) : Buffer.alloc(0),
        start_revision: opts.startRevision ?? 0,
      },
    });
  }

  /** The highest revision received so far (0 = none). */
  lastRevision(): number {
    return this.events.length === 0 ? 0 : this.events[this.events.length - 1].modRevision;
  }

  /** True while the stream has neither failed nor been canceled by the server. */
  get alive(): boolean {
    return !this.closed && !this.error && this.cancels.length === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.cancel();
  }
}
