// A follower in probe state gets at most one append with entries per heartbeat interval,
// however many heartbeat responses ReadIndex rounds bring back. Before this rule, a
// restarted master under read load was sent the same catch-up entries once per read round.
import { describe, expect, it } from 'vitest';
import { MessageType } from '../src/index.js';
import { Cluster, bytes } from './harness.js';

describe('probe pacing', () => {
  it('sends one probe append per heartbeat interval to a follower that does not answer appends', () => {
    const c = new Cluster(['a', 'b', 'c']);
    const l = c.electLeader();
    const slow = l.id === 'c' ? 'b' : 'c';
    l.raft.propose(bytes('warm-up'));
    c.stabilize();
    let probesWithEntries = 0;
    // The slow follower answers heartbeats but its append responses are lost.
    c.drop = (m) => {
      if (m.type === MessageType.App && m.to === slow && m.entries.length > 0) probesWithEntries++;
      return m.type === MessageType.AppResp && m.from === slow;
    };
    l.raft.reportUnreachable(slow); // replicate -> probe
    for (let i = 0; i < 5; i++) l.raft.propose(bytes(`v${i}`));
    c.stabilize();
    const afterPropose = probesWithEntries;
    expect(afterPropose).toBeLessThanOrEqual(1);
    // 20 ReadIndex rounds within one heartbeat interval: 20 heartbeat responses from the slow follower.
    for (let i = 0; i < 20; i++) {
      l.raft.readIndex(bytes(`read-${i}`));
      c.stabilize();
    }
    expect(probesWithEntries - afterPropose).toBe(0);
    // Time passes: probes continue, paced by heartbeats (the leader retries indefinitely, §5.3).
    c.tick(undefined, 10);
    expect(probesWithEntries).toBeGreaterThan(afterPropose);
    // Once its answers get through, the follower catches up.
    c.drop = undefined;
    c.tick(undefined, 5);
    c.stabilize();
    expect(c.get(slow).raft.lastIndex()).toBe(l.raft.lastIndex());
  });
});
