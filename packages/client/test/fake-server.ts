// A tiny in-process stand-in for masters: the KV and Cluster services from proto/ (loaded
// with transport's helper, like the real master) over one shared in-memory store. Each
// FakeMaster can be told to fail in the ways a real one does, so the client's failover
// rules can be tested without Raft.
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '@bramble/transport';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = Record<string, any>;

/**
 * - ok: serve normally
 * - unavailable: answer every call with UNAVAILABLE (a master without a leader)
 * - retry-safe: like unavailable, with the `bramble-retry-safe: true` trailer
 * - hang: accept calls and never answer
 * - apply-then-drop: apply a write, then kill every connection before answering
 */
export type FakeMode = 'ok' | 'unavailable' | 'retry-safe' | 'hang' | 'apply-then-drop';

interface Entry {
  value: Buffer;
  create: number;
  mod: number;
  version: number;
  lease: number;
}

interface StoredEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  kv: Wire;
  prevKv: Wire | null;
}

/** The state every fake master of one fake cluster shares. */
export class FakeState {
  readonly kvs = new Map<string, Entry>();
  revision = 1;
  compactRevision = 0;
  leader = '';
  readonly history: { revision: number; events: StoredEvent[] }[] = [];
  readonly leases = new Map<number, { ttl: number; granted: number }>();
  private readonly subscribers = new Set<(revision: number, events: StoredEvent[]) => void>();
  nextLeaseId = 1000;

  subscribe(fn: (revision: number, events: StoredEvent[]) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Apply one revision's worth of changes. */
  commit(changes: { key: string; value?: Buffer; lease?: number; delete?: boolean }[]): StoredEvent[] {
    const events: StoredEvent[] = [];
    const rev = this.revision + 1;
    for (const c of changes) {
      const prev = this.kvs.get(c.key);
      const prevKv = prev ? toWireKv(c.key, prev) : null;
      if (c.delete) {
        if (!prev) continue;
        this.kvs.delete(c.key);
        events.push({ type: 'DELETE', key: c.key, kv: { key: Buffer.from(c.key, 'latin1'), mod_revision: rev }, prevKv });
      } else {
        const e: Entry = { value: c.value ?? Buffer.alloc(0), create: prev ? prev.create : rev, mod: rev, version: prev ? prev.version + 1 : 1, lease: c.lease ?? 0 };
        this.kvs.set(c.key, e);
        events.push({ type: 'PUT', key: c.key, kv: toWireKv(c.key, e), prevKv });
      }
    }
    if (events.length === 0) return events;
    this.revision = rev;
    this.history.push({ revision: rev, events });
    for (const s of this.subscribers) s(rev, events);
    return events;
  }

  put(key: string, value: string): number {
    this.commit([{ key, value: Buffer.from(value) }]);
    return this.revision;
  }

  range(key: string, rangeEnd: string): [string, Entry][] {
    if (rangeEnd === '') {
      const e = this.kvs.get(key);
      return e ? [[key, e]] : [];
    }
    return [...this.kvs.entries()].filter(([k]) => k >= key && (rangeEnd === '\0' || k < rangeEnd)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

function toWireKv(key: string, e: Entry): Wire {
  return { key: Buffer.from(key, 'latin1'), value: e.value, create_revision: e.create, mod_revision: e.mod, version: e.version, lease: e.lease };
}

function str(b: Buffer | undefined | null): string {
  return b ? Buffer.from(b).toString('latin1') : '';
}

export class FakeMaster {
  mode: FakeMode = 'ok';
  /** Methods received, in order (e.g. "Put"), whatever the mode. */
  readonly calls: string[] = [];
  /** start_revision of every watch create request received. */
  readonly watchStarts: number[] = [];
  address = '';
  private server: grpc.Server | undefined;
  private readonly hung: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly state: FakeState,
  ) {}

  /** Bind 127.0.0.1 (port 0 = any free port; pass the old port to restart in place). */
  async start(port = 0): Promise<string> {
    const server = new grpc.Server();
    server.addService(serviceDefinition('kv.proto', 'bramble.kv.KV'), this.kvHandlers());
    server.addService(serviceDefinition('cluster.proto', 'bramble.cluster.Cluster'), this.clusterHandlers());
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    this.address = `127.0.0.1:${bound}`;
    return this.address;
  }

  /** Kill the master: every connection and stream drops, new connections are refused. */
  stop(): void {
    for (const release of this.hung.splice(0)) release();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  get port(): number {
    return Number(this.address.split(':')[1]);
  }

  private header(): Wire {
    return { cluster_id: 'fake', member: this.name, revision: this.state.revision, raft_term: 2, leader: this.state.leader };
  }

  /** Apply the mode to a unary call; returns true when the call was handled (failed or hung). */
  private intercept(method: string, callback: grpc.sendUnaryData<Wire>, applyWrite?: () => void): boolean {
    this.calls.push(method);
    switch (this.mode) {
      case 'ok':
        return false;
      case 'unavailable':
        callback({ code: grpc.status.UNAVAILABLE, details: `fake ${this.name}: no leader` });
        return true;
      case 'retry-safe': {
        const md = new grpc.Metadata();
        md.set('bramble-retry-safe', 'true');
        callback({ code: grpc.status.UNAVAILABLE, details: `fake ${this.name}: proposal dropped`, metadata: md });
        return true;
      }
      case 'hang':
        this.hung.push(() => callback({ code: grpc.status.UNAVAILABLE, details: 'released' }));
        return true;
      case 'apply-then-drop':
        applyWrite?.();
        setImmediate(() => this.stop());
        return true;
    }
  }

  private kvHandlers(): grpc.UntypedServiceImplementation {
    const s = this.state;
    return {
      Range: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('Range', cb)) return;
        const r = call.request;
        const all = s.range(str(r.key), str(r.range_end));
        const limit = Number(r.limit);
        const kvs = (limit > 0 ? all.slice(0, limit) : all).map(([k, e]) => (r.keys_only ? { ...toWireKv(k, e), value: Buffer.alloc(0) } : toWireKv(k, e)));
        cb(null, { header: this.header(), kvs: r.count_only ? [] : kvs, more: limit > 0 && all.length > limit, count: all.length });
      },
      Put: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        const r = call.request;
        const apply = (): StoredEvent[] => s.commit([{ key: str(r.key), value: Buffer.from(r.value ?? []), lease: Number(r.lease) }]);
        if (this.intercept('Put', cb, apply)) return;
        if (str(r.key) === '') {
          cb({ code: grpc.status.INVALID_ARGUMENT, details: 'put.key: key must not be empty' });
          return;
        }
        const [ev] = apply();
        cb(null, { header: this.header(), prev_kv: r.prev_kv ? ev.prevKv : null });
      },
      DeleteRange: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        const r = call.request;
        const apply = (): StoredEvent[] => s.commit(s.range(str(r.key), str(r.range_end)).map(([k]) => ({ key: k, delete: true })));
        if (this.intercept('DeleteRange', cb, apply)) return;
        const events = apply();
        cb(null, { header: this.header(), deleted: events.length, prev_kvs: r.prev_kv ? events.map((e) => e.prevKv) : [] });
      },
      Txn: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('Txn', cb)) return;
        const r = call.request;
        const holds = (r.compare as Wire[]).every((c) => {
          const e = s.kvs.get(str(c.key));
          const field = c.target_union as string;
          const want = c[field];
          const have =
            c.target === 'VALUE' ? str(e?.value) : c.target === 'VERSION' ? e?.version ?? 0 : c.target === 'CREATE' ? e?.create ?? 0 : c.target === 'MOD' ? e?.mod ?? 0 : e?.lease ?? 0;
          const w = c.target === 'VALUE' ? str(want) : Number(want);
          switch (c.result) {
            case 'EQUAL':
              return have === w;
            case 'NOT_EQUAL':
              return have !== w;
            case 'GREATER':
              return have > w;
            default:
              return have < w;
          }
        });
        const ops = (holds ? r.success : r.failure) as Wire[];
        const responses: Wire[] = [];
        for (const op of ops) {
          if (op.request_put) {
            s.commit([{ key: str(op.request_put.key), value: Buffer.from(op.request_put.value ?? []) }]);
            responses.push({ response_put: { header: this.header() } });
          } else if (op.request_range) {
            const kvs = s.range(str(op.request_range.key), str(op.request_range.range_end)).map(([k, e]) => toWireKv(k, e));
            responses.push({ response_range: { header: this.header(), kvs, count: kvs.length } });
          } else if (op.request_delete_range) {
            const evs = s.commit(s.range(str(op.request_delete_range.key), str(op.request_delete_range.range_end)).map(([k]) => ({ key: k, delete: true })));
            responses.push({ response_delete_range: { header: this.header(), deleted: evs.length } });
          }
        }
        cb(null, { header: this.header(), succeeded: holds, responses });
      },
      Compact: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('Compact', cb)) return;
        s.compactRevision = Number(call.request.revision);
        cb(null, { header: this.header() });
      },
      Watch: (call: grpc.ServerDuplexStream<Wire, Wire>) => this.watch(call),
      LeaseGrant: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('LeaseGrant', cb)) return;
        const id = Number(call.request.id) || s.nextLeaseId++;
        s.leases.set(id, { ttl: Number(call.request.ttl), granted: Number(call.request.ttl) });
        cb(null, { header: this.header(), id, ttl: Number(call.request.ttl) });
      },
      LeaseRevoke: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('LeaseRevoke', cb)) return;
        if (!s.leases.delete(Number(call.request.id))) {
          cb({ code: grpc.status.NOT_FOUND, details: `lease ${call.request.id} not found` });
          return;
        }
        cb(null, { header: this.header() });
      },
      LeaseKeepAlive: (call: grpc.ServerDuplexStream<Wire, Wire>) => {
        this.calls.push('LeaseKeepAlive');
        call.on('data', (r: Wire) => {
          const l = s.leases.get(Number(r.id));
          call.write({ header: this.header(), id: Number(r.id), ttl: l ? l.granted : -1 });
        });
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
      LeaseTimeToLive: (call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('LeaseTimeToLive', cb)) return;
        const l = s.leases.get(Number(call.request.id));
        const keys = [...s.kvs.entries()].filter(([, e]) => e.lease === Number(call.request.id)).map(([k]) => Buffer.from(k, 'latin1'));
        cb(null, { header: this.header(), id: Number(call.request.id), ttl: l ? l.ttl : -1, granted_ttl: l ? l.granted : 0, keys: call.request.keys ? keys : [] });
      },
    };
  }

  private watch(call: grpc.ServerDuplexStream<Wire, Wire>): void {
    this.calls.push('Watch');
    const s = this.state;
    let unsubscribe = (): void => {};
    let nextId = 1;
    call.on('data', (req: Wire) => {
      if (!req.create_request) return;
      const c = req.create_request;
      const key = str(c.key);
      const end = str(c.range_end);
      const start = Number(c.start_revision);
      this.watchStarts.push(start);
      const id = nextId++;
      if (start > 0 && start <= s.compactRevision) {
        call.write({ header: this.header(), watch_id: id, created: true, canceled: true, compact_revision: s.compactRevision });
        return;
      }
      const matches = (k: string): boolean => (end === '' ? k === key : k >= key && (end === '\0' || k < end));
      const toWire = (events: StoredEvent[]): Wire[] =>
        events.filter((e) => matches(e.key)).map((e) => ({ type: e.type, kv: e.kv, prev_kv: c.prev_kv ? e.prevKv : null }));
      call.write({ header: this.header(), watch_id: id, created: true });
      if (start > 0) {
        for (const h of s.history) {
          if (h.revision < start) continue;
          const evs = toWire(h.events);
          if (evs.length > 0) call.write({ header: { ...this.header(), revision: h.revision }, watch_id: id, events: evs });
        }
      }
      unsubscribe = s.subscribe((revision, events) => {
        const evs = toWire(events);
        if (evs.length > 0) call.write({ header: { ...this.header(), revision }, watch_id: id, events: evs });
      });
    });
    const done = (): void => unsubscribe();
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
  }

  private clusterHandlers(): grpc.UntypedServiceImplementation {
    return {
      Status: (_call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('Status', cb)) return;
        cb(null, {
          cluster_id: 'fake',
          member: this.name,
          leader: this.state.leader,
          term: 2,
          role: this.state.leader === this.name ? 'leader' : 'follower',
          commit_index: 10,
          applied_index: 10,
          revision: this.state.revision,
          last_index: 10,
          snapshot_index: 0,
          version: 'fake',
          errors: [],
        });
      },
      MemberList: (_call: grpc.ServerUnaryCall<Wire, Wire>, cb: grpc.sendUnaryData<Wire>) => {
        if (this.intercept('MemberList', cb)) return;
        cb(null, { cluster_id: 'fake', leader: this.state.leader, members: FakeCluster.membersOf(this.state) });
      },
    };
  }
}

/** Several fake masters over one state. */
export class FakeCluster {
  private static readonly registry = new WeakMap<FakeState, FakeMaster[]>();
  readonly state = new FakeState();
  readonly masters: FakeMaster[];

  constructor(names: string[]) {
    this.masters = names.map((n) => new FakeMaster(n, this.state));
    FakeCluster.registry.set(this.state, this.masters);
  }

  static membersOf(state: FakeState): Wire[] {
    return (FakeCluster.registry.get(state) ?? []).map((m) => ({ name: m.name, address: m.address, http_address: '', is_learner: false }));
  }

  async start(): Promise<string[]> {
    return Promise.all(this.masters.map((m) => m.start()));
  }

  get endpoints(): string[] {
    return this.masters.map((m) => m.address);
  }

  stop(): void {
    for (const m of this.masters) m.stop();
  }
}

/**
 * An endpoint nothing listens on. A privileged port (below 1024) on a random loopback address:
 * a port borrowed with listen(0) and closed again could be handed to another test's server
 * before this one dials it (the kernel gives out ephemeral ports, never these).
 */
let refusedCount = 0;
export async function refusedEndpoint(): Promise<string> {
  refusedCount++;
  const host = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
  return `${host}:${600 + (refusedCount % 400)}`;
}
