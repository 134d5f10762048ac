import { KvStore } from '@bramble/kv';
import type { ConfChange, ConfState } from '@bramble/raft';
import { decodeMemberContext } from './proposal-codec.js';

export interface MemberInfo {
  name: string;
  address: string;
  httpAddress: string;
  stayLearner: boolean;
}

const SNAPSHOT_MAGIC = 'BRSM';
const SNAPSHOT_FORMAT = 2;

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

  /** Layout: "BRSM", format (u8), header length (u32 BE), header JSON (members), then the KV snapshot bytes. */
  snapshot(): Uint8Array {
    const header = Buffer.from(JSON.stringify({ members: [...this.members.values()] }));
    const kv = this.kv.snapshot();
    const out = Buffer.allocUnsafe(SNAPSHOT_MAGIC.length + 5 + header.length + kv.length);
    out.write(SNAPSHOT_MAGIC, 0, 'latin1');
    out.writeUInt8(SNAPSHOT_FORMAT, 4);
    out.writeUInt32BE(header.length, 5);
    header.copy(out, 9);
    out.set(kv, 9 + header.length);
    return out;
  }

  static restore(data: Uint8Array): MasterStateMachine {
    if (data.length === 0) return new MasterStateMachine();
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length < 9 || buf.toString('latin1', 0, 4) !== SNAPSHOT_MAGIC) {
      throw new Error('state snapshot: not a Bramble master snapshot (bad magic)');
    }
    const format = buf.readUInt8(4);
    if (format !== SNAPSHOT_FORMAT) throw new Error(`state snapshot: format ${format} is not supported (want ${SNAPSHOT_FORMAT})`);
    const headerLength = buf.readUInt32BE(5);
    if (9 + headerLength > buf.length) throw new Error(`state snapshot: header of ${headerLength} bytes runs past the end (${buf.length} bytes)`);
    const header = JSON.parse(buf.toString('utf8', 9, 9 + headerLength)) as { members: MemberInfo[] };
    const kv = KvStore.restore(buf.subarray(9 + headerLength));
    return new MasterStateMachine(kv, new Map(header.members.map((m) => [m.name, m])));
  }
}
