// scripts/bench raft-core: three Raft cores in one process with in-memory storage and
// network; how many 64-byte entries per second commit? Measures the core alone.
import { parseArgs } from 'node:util';
import { EntryType, MemoryStorage, RaftNode, Role, seededRandom, type Message } from '@bramble/raft';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    nodes: { type: 'string', default: '3' },
    'entry-bytes': { type: 'string', default: '64' },
    batch: { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const nodeCount = Number(values.nodes);
const entryBytes = Number(values['entry-bytes']);
const batch = Number(values.batch);

const ids = Array.from({ length: nodeCount }, (_, i) => `m${i + 1}`);
const storages = new Map(ids.map((id) => [id, new MemoryStorage({ voters: ids, learners: [] })]));
const nodes = new Map(
  ids.map((id, i) => [
    id,
    new RaftNode({ id, storage: storages.get(id)!, random: seededRandom(i + 1), maxSizePerMsgBytes: 4 * 1024 * 1024 }),
  ]),
);
const COMPACT_EVERY = 200_000;
let inbox: Message[] = [];
let applied = 0;
let leaderId = '';

function processReadies(): boolean {
  let any = false;
  for (const [id, node] of nodes) {
    if (!node.hasReady()) continue;
    any = true;
    const rd = node.ready();
    const storage = storages.get(id)!;
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    for (const m of rd.messages) inbox.push(m);
    if (id === leaderId) for (const e of rd.committedEntries) if (e.type === EntryType.Normal && e.data.length > 0) applied++;
    if (rd.softState?.role === Role.Leader) leaderId = id;
    node.advance(rd);
    // Snapshot and compact as a real host does, so memory stays bounded.
    const appliedIndex = node.status().applied;
    if (appliedIndex - storage.firstIndex() > COMPACT_EVERY) {
      storage.createSnapshot(appliedIndex, node.confState(), new Uint8Array(0));
      storage.compact(appliedIndex - COMPACT_EVERY / 2);
    }
  }
  const deliver = inbox;
  inbox = [];
  for (const m of deliver) nodes.get(m.to)!.step(m);
  return any || deliver.length > 0;
}

// Elect m1.
nodes.get('m1')!.campaign();
for (let i = 0; i < 100 && leaderId === ''; i++) processReadies();
while (processReadies()) {}
if (leaderId === '') throw new Error('no leader elected');
const leader = nodes.get(leaderId)!;

const payload = new Uint8Array(entryBytes).fill(7);
const datas = Array.from({ length: batch }, () => payload);
let proposed = 0;
const start = performance.now();
const deadline = start + seconds * 1000;
let ticks = 0;
while (performance.now() < deadline) {
  // Keep a bounded amount of uncommitted work in flight, as a real host would.
  if (proposed - applied < batch * 4) {
    leader.proposeBatch(datas);
    proposed += batch;
  }
  processReadies();
  if (++ticks % 64 === 0) for (const n of nodes.values()) n.tick();
}
while (processReadies()) {}
const elapsedS = (performance.now() - start) / 1000;
const perSecond = Math.round(applied / elapsedS);
const result = { bench: 'raft-core', nodes: nodeCount, entry_bytes: entryBytes, batch, seconds: +elapsedS.toFixed(2), committed: applied, entries_per_s: perSecond, leader_changes: 0 };
const terms = new Set([...nodes.values()].map((n) => n.status().term));
result.leader_changes = Math.max(...terms) - 1;
console.log(JSON.stringify(result));
if (!values.json) console.error(`raft-core: ${perSecond.toLocaleString('en-US')} committed ${entryBytes}-byte entries/s on ${nodeCount} nodes (${applied} in ${elapsedS.toFixed(2)} s)`);
