// A real three-member Raft cluster in one process, talking over PeerTransport.
import { afterEach, describe, expect, it } from 'vitest';
import {
  EntryType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RaftNode,
  Role,
  decodeConfChange,
  seededRandom,
  type Message,
  type NodeId,
} from '@bramble/raft';
import type { PeerTransport } from '../src/index.js';
import { Fixture, waitFor } from './helpers.js';

const fx = new Fixture();
afterEach(() => fx.stop());

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Member {
  id: NodeId;
  raft: RaftNode;
  storage: MemoryStorage;
  transport?: PeerTransport;
  /** Applied commands in log order (no-ops left out). */
  applied: string[];
  readyScheduled: boolean;
  /** MsgProp messages this member received over the peer stream. */
  propsReceived: number;
}

/** The host loop of one member: persist (in memory), send, apply, advance. */
function processReady(m: Member): void {
  m.readyScheduled = false;
  while (m.raft.hasReady()) {
    const rd = m.raft.ready();
    if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
    m.storage.append(rd.entries);
    if (rd.hardState) m.storage.setHardState(rd.hardState);
    m.transport!.send(rd.messages);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) m.raft.applyConfChange(decodeConfChange(e.data));
      else if (e.data.length > 0) m.applied.push(dec.decode(e.data));
    }
    m.raft.advance(rd);
  }
}

function scheduleReady(m: Member): void {
  if (m.readyScheduled) return;
  m.readyScheduled = true;
  setImmediate(() => processReady(m));
}

describe('Raft over PeerTransport', () => {
  it('three members elect a leader and commit 1,000 proposals, followers forwarding theirs as MsgProp', async () => {
    const ids = ['m1', 'm2', 'm3'];
    const started = await Promise.all(ids.map(() => fx.server()));
    const peers = Object.fromEntries(ids.map((id, i) => [id, started[i].address]));
    const members: Member[] = ids.map((id, i) => {
      const storage = new MemoryStorage({ voters: ids, learners: [] });
      const raft = new RaftNode({ id, storage, random: seededRandom(1000 + i), electionTicks: 30, heartbeatTicks: 3 });
      return { id, raft, storage, applied: [], readyScheduled: false, propsReceived: 0 };
    });
    members.forEach((m, i) => {
      m.transport = fx.transport(
        {
          self: m.id,
          clusterId: 'raft-test',
          peers,
          handlers: {
            onMessage: (msg: Message) => {
              if (msg.type === MessageType.Prop) m.propsReceived++;
              m.raft.step(msg);
              scheduleReady(m);
            },
            onUnreachable: (peer) => m.raft.reportUnreachable(peer),
            onSnapshotStatus: (peer, ok) => m.raft.reportSnapshot(peer, ok),
          },
        },
        started[i].server,
      );
      fx.timers.push(
        setInterval(() => {
          m.raft.tick();
          processReady(m);
        }, 10),
      );
    });

    await waitFor(() => members.some((m) => m.raft.status().role === Role.Leader), 'a leader', 15_000);
    const leader = members.find((m) => m.raft.status().role === Role.Leader)!;
    await waitFor(() => members.every((m) => m.raft.status().leader === leader.id), 'every member to know the leader');

    // 1,000 commands: a third proposed on each member, in bursts of 50 per turn of the event loop.
    const all = Array.from({ length: 1000 }, (_, i) => `cmd-${i}`);
    const proposer = (i: number) => members[i % 3];
    const propose = (cmds: string[]) => {
      for (const cmd of cmds) {
        const m = proposer(Number(cmd.slice(4)));
        try {
          m.raft.propose(enc.encode(cmd));
          scheduleReady(m);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          // No leader known right now: the retry below proposes it again.
        }
      }
    };
    for (let i = 0; i < all.length; i += 50) {
      propose(all.slice(i, i + 50));
      await new Promise((r) => setImmediate(r));
    }

    // Raft may lose a proposal (e.g. a MsgProp in flight when leadership changes); a client retries.
    const committed = () => new Set(members[0].applied);
    let lastProgress = Date.now();
    let lastCount = 0;
    await waitFor(
      () => {
        const done = members.every((m) => new Set(m.applied).size === all.length);
        const count = committed().size;
        if (count !== lastCount) {
          lastCount = count;
          lastProgress = Date.now();
        } else if (!done && Date.now() - lastProgress > 2_000) {
          const have = committed();
          propose(all.filter((c) => !have.has(c)));
          lastProgress = Date.now();
        }
        return done;
      },
      '1,000 commands applied on every member',
      30_000,
    );

    // Same commands in the same order everywhere (duplicates from retries are harmless and identical).
    expect(members[1].applied).toEqual(members[0].applied);
    expect(members[2].applied).toEqual(members[0].applied);
    expect(new Set(members[0].applied)).toEqual(new Set(all));
    // Followers' proposals travelled as MsgProp over the peer streams to the leader.
    const finalLeader = members.find((m) => m.raft.status().role === Role.Leader)!;
    expect(finalLeader.propsReceived).toBeGreaterThan(0);
    const stats = leader.transport!.peerStats();
    for (const id of ids.filter((x) => x !== leader.id)) {
      expect(stats[id].connected).toBe(true);
      expect(stats[id].receivedMessages).toBeGreaterThan(0);
    }
  });
});
