import { KvStore } from '@bramble/kv';
import type { ConfChange, ConfState } from '@bramble/raft';
import { decodeMemberContext } from './proposal-codec.js';

export interface MemberInfo {
  name: string;
  address: string;
  httpAddress: string;
  stayLearner: boolean;
}

const SNAPSHOT_FORMAT = 1;

/**
 * Everything a master replicates: the KV store and the member registry (addresses of
 * members, learned from conf change entries). Snapshot and restore are exact.
 */
export class MasterStateMachine {
  constructor(
    public kv: KvStore = new KvStore(),
    readonly members = new Map<string, MemberInfo>(),
  ) {}

  static bootstrap(peers: Record<string, string>): MasterStateMachine {
    const sm = new MasterStateMachine();
    for (const [name, address] of Object.entries(peers)) {
      sm.members.set(name, { name, address, httpAddress: '', stayLearner: false });
    }
    return sm;
  }

  applyConfChange(cc: ConfChange, conf: ConfState): void {
    const ctx = decodeMemberContext(cc.context);
    if (cc.type === 'removeNode') {
      this.members.delete(cc.nodeId);
    } else if (ctx) {
      const prev = this.members.get(cc.nodeId);
      this.members.set(cc.nodeId, {
        name: cc.nodeId,
        address: ctx.address,
        httpAddress: ctx.httpAddress || prev?.httpAddress || '',
        stayLearner: cc.type === 'addLearner' ? Boolean(ctx.stayLearner) : false,
      });
    } else if (cc.type === 'addNode') {
      const prev = this.members.get(cc.nodeId);
      if (prev) prev.stayLearner = false;
    }
    // Drop registry entries the configuration no longer has (e.g. after a raced change).
    const inConf = new Set([...conf.voters, ...conf.learners]);
    for (const name of [...this.members.keys()]) if (!inConf.has(name)) this.members.delete(name);
  }

  snapshot(): Uint8Array {
    const kv = Buffer.from(this.kv.snapshot()).toString('base64');
    const body = JSON.stringify({ format: SNAPSHOT_FORMAT, members: [...this.members.values()], kv });
    return new TextEncoder().encode(body);
  }

  static restore(data: Uint8Array): MasterStateMachine {
    if (data.length === 0) return new MasterStateMachine();
    const body = JSON.parse(new TextDecoder().decode(data)) as { format: number; members: MemberInfo[]; kv: string };
    if (body.format !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${body.format} is not supported (want ${SNAPSHOT_FORMAT})`);
    const kv = KvStore.restore(new Uint8Array(Buffer.from(body.kv, 'base64')));
    return new MasterStateMachine(kv, new Map(body.members.map((m) => [m.name, m])));
  }
}
