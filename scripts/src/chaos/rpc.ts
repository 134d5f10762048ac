// Direct gRPC to one master (no failover, no retries: one operation = one attempt at one
// member), and the rule that turns a failed call into 'fail' (certainly not applied) or
// 'unknown' (may have been applied).
import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Reply = Record<string, any>;

// A restarted master should be reachable again quickly: grpc-js's reconnect back-off
// otherwise grows to two minutes. Keepalive notices a connection to a vanished peer.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
};

export class MemberConn {
  readonly kv: grpc.Client;
  readonly cluster: grpc.Client;

  constructor(
    readonly name: string,
    readonly address: string,
  ) {
    const KV = serviceClient('kv.proto', 'bramble.kv.KV');
    const Cluster = serviceClient('cluster.proto', 'bramble.cluster.Cluster');
    this.kv = new KV(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.cluster = new Cluster(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  private call(client: grpc.Client, method: string, req: object, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) =>
      (client as any)[method](req, { deadline: new Date(Date.now() + timeoutMs) }, (err: grpc.ServiceError | null, res: Reply) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  kvCall(method: string, req: object, timeoutMs: number): Promise<Reply> {
    return this.call(this.kv, method, req, timeoutMs);
  }

  clusterCall(method: string, req: object, timeoutMs: number): Promise<Reply> {
    return this.call(this.cluster, method, req, timeoutMs);
  }

  close(): void {
    this.kv.close();
    this.cluster.close();
  }
}

/** One MemberConn per member, by name. */
export class Conns {
  private readonly conns = new Map<string, MemberConn>();

  constructor(readonly addresses: Map<string, string>) {}

  get(name: string): MemberConn {
    let c = this.conns.get(name);
    if (!c) {
      const address = this.addresses.get(name);
      if (!address) throw new Error(`no address for member ${name}`);
      c = new MemberConn(name, address);
      this.conns.set(name, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'number';
}

/**
 * 'fail' only when the operation certainly did not take effect:
 * - grpc-js never sent it (no connection: refused, or still connecting at the deadline);
 * - the master refused it before proposing: a proposal dropped by Raft (no leader, leadership
 *   transfer), a master that is not running, or a definite error status (INVALID_ARGUMENT, ...).
 * Everything else after sending (deadline, lost connection, cancelled by a master going down,
 * "shutting down", INTERNAL) is 'unknown'.
 */
export function classifyFailure(err: unknown): 'fail' | 'unknown' {
  if (!isServiceError(err)) return 'unknown';
  const details = err.details ?? '';
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      if (details.startsWith('No connection established')) return 'fail';
      if (details.startsWith('proposal dropped')) return 'fail';
      if (/^master \S+ is not running$/.test(details)) return 'fail';
      return 'unknown';
    case grpc.status.DEADLINE_EXCEEDED:
      return details.includes('Waiting for LB pick') ? 'fail' : 'unknown';
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.NOT_FOUND:
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNIMPLEMENTED:
      return 'fail';
    default:
      return 'unknown';
  }
}

export function errorText(err: unknown): string {
  if (isServiceError(err)) return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
