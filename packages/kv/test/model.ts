// A deliberately naive reference model of the store: a full Map copy per
// revision, written straight from the etcd semantics, sharing no code with src.
import type {
  Compare,
  KeyValue,
  KvCommand,
  KvErrorCode,
  KvResult,
  OpResponse,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  TxnRequest,
  WatchEvent,
} from '../src/index.js';

export class ModelError extends Error {
  constructor(readonly code: KvErrorCode) {
    super(code);
  }
}

type State = Map<string, KeyValue>;

/** Does `[key, rangeEnd)` (etcd conventions) contain k? */
export function covers(key: string, rangeEnd: string | undefined, k: string): boolean {
  if (rangeEnd === undefined || rangeEnd === '') return k === key;
  if (rangeEnd === '\0') return k >= key;
  return k >= key && k < rangeEnd;
}

interface Draft {
  rev: number;
  state: State;
  events: WatchEvent[];
  ranges: RangeResponse[];
}

export class ModelKv {
  revision = 1;
  compactRevision = 0;
  private readonly revs: number[] = [1];
  private readonly states: State[] = [new Map()];
  readonly leases = new Map<number, number>();
  readonly events: WatchEvent[] = [];

  private current(): State {
    return this.states[this.states.length - 1];
  }

  stateAt(revision: number): State {
    for (let i = this.revs.length - 1; i >= 0; i--) if (this.revs[i] <= revision) return this.states[i];
    return new Map();
  }

  range(req: RangeRequest): RangeResponse {
    this.checkRead(req.revision ?? 0);
    return this.rangeIn(req.revision ? this.stateAt(req.revision) : this.current(), req);
  }

  private checkRead(revision: number): void {
    if (revision === 0) return;
    if (revision > this.revision) throw new ModelError('future_revision');
    if (revision < this.compactRevision) throw new ModelError('compacted');
  }

  private rangeIn(state: State, req: RangeRequest): RangeResponse {
    const all = [...state.keys()].filter((k) => covers(req.key, req.rangeEnd, k)).sort();
    const limit = req.limit ?? 0;
    const shown = req.countOnly ? [] : limit > 0 ? all.slice(0, limit) : all;
    return {
      kvs: shown.map((k) => ({ ...state.get(k)!, value: req.keysOnly ? '' : state.get(k)!.value })),
      more: !req.countOnly && limit > 0 && all.length > limit,
      count: all.length,
      revision: this.revision,
    };
  }

  apply(cmd: KvCommand): KvResult {
    switch (cmd.type) {
      case 'put': {
        this.checkPut(cmd);
        const d = this.draft();
        const r = this.put(d, cmd);
        this.commit(d);
        return { type: 'put', revision: this.revision, ...r };
      }
      case 'deleteRange': {
        const d = this.draft();
        const r = this.del(d, cmd.key, cmd.rangeEnd, cmd.prevKv);
        this.commit(d);
        return { type: 'deleteRange', revision: this.revision, ...r };
      }
      case 'txn': {
        const path = this.path(cmd);
        this.checkPath(cmd, path);
        const d = this.draft();
        const r = this.runTxn(d, cmd, path);
        this.commit(d);
        for (const rr of d.ranges) rr.revision = this.revision;
        return { type: 'txn', revision: this.revision, ...r };
      }
      case 'compact':
        if (cmd.revision <= this.compactRevision) throw new ModelError('compacted');
        if (cmd.revision > this.revision) throw new ModelError('future_revision');
        this.compactRevision = cmd.revision;
        return { type: 'compact', revision: this.revision };
      case 'leaseGrant':
        if (this.leases.has(cmd.id)) throw new ModelError('lease_exists');
        this.leases.set(cmd.id, cmd.ttlSeconds);
        return { type: 'leaseGrant', revision: this.revision, id: cmd.id, ttlSeconds: cmd.ttlSeconds };
      case 'leaseRevoke': {
        if (!this.leases.has(cmd.id)) throw new ModelError('lease_not_found');
        const d = this.draft();
        for (const k of [...d.state.keys()].sort()) if (d.state.get(k)!.lease === cmd.id) this.del(d, k, undefined, false);
        this.leases.delete(cmd.id);
        this.commit(d);
        return { type: 'leaseRevoke', revision: this.revision };
      }
      case 'leaseKeepAlive':
        if (!this.leases.has(cmd.id)) throw new ModelError('lease_not_found');
        return { type: 'leaseKeepAlive', revision: this.revision, id: cmd.id, ttlSeconds: this.leases.get(cmd.id)! };
    }
  }

  private draft(): Draft {
    return { rev: this.revision + 1, state: new Map(this.current()), events: [], ranges: [] };
  }

  private commit(d: Draft): void {
    if (d.events.length === 0) return;
    this.revision = d.rev;
    this.revs.push(d.rev);
    this.states.push(d.state);
    this.events.push(...d.events);
  }

  private checkPut(p: PutRequest): void {
    if ((p.ignoreValue || p.ignoreLease) && !this.current().has(p.key)) throw new ModelError('key_not_found');
    if (!p.ignoreLease && (p.lease ?? 0) !== 0 && !this.leases.has(p.lease!)) throw new ModelError('lease_not_found');
  }

  private put(d: Draft, p: PutRequest): { prevKv?: KeyValue } {
    const prev = d.state.get(p.key);
    const kv: KeyValue = {
      key: p.key,
      value: p.ignoreValue ? prev!.value : p.value,
      createRevision: prev ? prev.createRevision : d.rev,
      modRevision: d.rev,
      version: prev ? prev.version + 1 : 1,
      lease: p.ignoreLease ? prev!.lease : (p.lease ?? 0),
    };
    d.state.set(p.key, kv);
    d.events.push(prev ? { type: 'put', kv, prevKv: prev } : { type: 'put', kv });
    return p.prevKv && prev ? { prevKv: prev } : {};
  }

  private del(d: Draft, key: string, rangeEnd: string | undefined, prevKv: boolean | undefined): { deleted: number; prevKvs?: KeyValue[] } {
    const gone = [...d.state.keys()].filter((k) => covers(key, rangeEnd, k)).sort();
    const prevKvs = gone.map((k) => d.state.get(k)!);
    for (const prev of prevKvs) {
      d.state.delete(prev.key);
      d.events.push({ type: 'delete', kv: { key: prev.key, value: '', createRevision: 0, modRevision: d.rev, version: 0, lease: 0 }, prevKv: prev });
    }
    return prevKv ? { deleted: gone.length, prevKvs } : { deleted: gone.length };
  }

  private holds(c: Compare): boolean {
    const kvs = [...this.current().values()].filter((kv) => covers(c.key, c.rangeEnd, kv.key));
    if (kvs.length === 0 && c.target === 'value') return false;
    const test = (kv: KeyValue | undefined): boolean => {
      const pairs: Record<Compare['target'], [number | string, number | string]> = {
        value: [kv?.value ?? '', c.value ?? ''],
        modRevision: [kv?.modRevision ?? 0, c.revision ?? 0],
        createRevision: [kv?.createRevision ?? 0, c.revision ?? 0],
        version: [kv?.version ?? 0, c.version ?? 0],
        lease: [kv?.lease ?? 0, c.lease ?? 0],
      };
      const [a, b] = pairs[c.target];
      return c.result === '=' ? a === b : c.result === '!=' ? a !== b : c.result === '<' ? a < b : a > b;
    };
    return kvs.length === 0 ? test(undefined) : kvs.every(test);
  }

  /** Branch decisions, pre-order over the txn tree (all against the pre-txn state). */
  private path(t: TxnRequest): boolean[] {
    const ok = t.compare.every((c) => this.holds(c));
    const out = [ok];
    for (const op of ok ? t.success : t.failure) if ('txn' in op) out.push(...this.path(op.txn));
    return out;
  }

  private checkPath(t: TxnRequest, decisions: boolean[]): void {
    const path = [...decisions];
    const walk = (txn: TxnRequest): void => {
      const ok = path.shift()!;
      for (const op of ok ? txn.success : txn.failure) {
        if ('put' in op) this.checkPut(op.put);
        else if ('range' in op) this.checkRead(op.range.revision ?? 0);
        else if ('txn' in op) walk(op.txn);
      }
    };
    walk(t);
  }

  private runTxn(d: Draft, t: TxnRequest, path: boolean[]): { succeeded: boolean; responses: OpResponse[] } {
    const decisions = [...path];
    const run = (txn: TxnRequest): { succeeded: boolean; responses: OpResponse[] } => {
      const ok = decisions.shift()!;
      const responses = (ok ? txn.success : txn.failure).map((op: RequestOp): OpResponse => {
        if ('put' in op) return { put: this.put(d, op.put) };
        if ('deleteRange' in op) return { deleteRange: this.del(d, op.deleteRange.key, op.deleteRange.rangeEnd, op.deleteRange.prevKv) };
        if ('range' in op) {
          const r = this.rangeIn(op.range.revision ? this.stateAt(op.range.revision) : d.state, op.range);
          d.ranges.push(r);
          return { range: r };
        }
        return { txn: run(op.txn) };
      });
      return { succeeded: ok, responses };
    };
    return run(t);
  }
}
