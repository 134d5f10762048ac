// Figure 7 of the Raft paper: when the leader at the top comes to power (term 8),
// any of the follower logs (a)-(f) may be present on a follower. Each must end up
// exactly equal to the leader's log (§5.3), and fast back-off (the rejection hint)
// must find the match point in few round trips.
import { describe, expect, it } from 'vitest';
import { MessageType, Role } from '../src/index.js';
import { Cluster, storageWithLog, text } from './harness.js';

const LEADER_LOG = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

const FOLLOWERS: { name: string; terms: number[]; rejections: number; naiveRejections: number }[] = [
  // rejections: with the follower's hint; naiveRejections: decrementing nextIndex one by one.
  { name: '(a) missing an entry', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6], rejections: 1, naiveRejections: 1 },
  { name: '(b) missing many entries', terms: [1, 1, 1, 4], rejections: 1, naiveRejections: 6 },
  { name: '(c) an extra uncommitted entry', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], rejections: 0, naiveRejections: 0 },
  { name: '(d) extra entries of a later term', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], rejections: 0, naiveRejections: 0 },
  { name: '(e) missing entries and extra entries of an old term', terms: [1, 1, 1, 4, 4, 4, 4], rejections: 1, naiveRejections: 5 },
  { name: '(f) extra entries of terms 2 and 3', terms: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], rejections: 1, naiveRejections: 7 },
];

const VOTERS = ['leader', 'follower', 'third'];

/** The leader (term 7, about to become leader of term 8), a follower with `terms`, and a third node holding the leader's log. */
function figure7Cluster(terms: number[]): Cluster {
  const c = new Cluster(VOTERS, {
    storages: {
      leader: storageWithLog(VOTERS, LEADER_LOG, { term: 7 }),
      follower: storageWithLog(VOTERS, terms, { term: Math.max(...terms) }),
      third: storageWithLog(VOTERS, LEADER_LOG, { term: 7 }),
    },
  });
  c.get('leader').raft.campaign();
  c.stabilize();
  expect(c.get('leader').raft.status()).toMatchObject({ role: Role.Leader, term: 8 });
  return c;
}

describe('Figure 7: a new leader brings every follower log in line with its own (§5.3)', () => {
  for (const f of FOLLOWERS) {
    it(`LeaderSyncsFollowerLog ${f.name}: the follower ends with exactly the leader's log`, () => {
      const c = figure7Cluster(f.terms);
      c.tick(undefined, 3);

      const expected = [...LEADER_LOG.map((t, i) => `${i + 1}@${t}`), '11@8'];
      expect(c.log('leader')).toEqual(expected);
      expect(c.log('follower')).toEqual(expected);
      // Byte for byte, and durably: the storage holds the same entries (nothing left of (c)/(d)'s extra suffix).
      const leaderEntries = c.get('leader').raft.entriesFrom(1, 12);
      const storage = c.get('follower').storage;
      expect(storage.lastIndex()).toBe(11);
      expect(storage.entries(1, 12).map((e) => [e.index, e.term, text(e.data)])).toEqual(
        leaderEntries.map((e) => [e.index, e.term, text(e.data)]),
      );
      // The term-8 no-op commits, and with it the whole log: the follower applies all of it.
      expect(c.get('follower').raft.status().commit).toBe(11);
      expect(c.get('follower').applied.map((e) => `${e.index}@${e.term}`)).toEqual(expected);
    });

    it(`FastBackOff ${f.name}: the match point is found in ${f.rejections} rejected AppendEntries (one by one would take ${f.naiveRejections})`, () => {
      const c = figure7Cluster(f.terms);
      const rejected = c.count((m) => m.type === MessageType.AppResp && m.from === 'follower' && m.reject);
      expect(rejected).toBe(f.rejections);
      expect(rejected).toBeLessThanOrEqual(1);
      expect(c.log('follower')).toEqual(c.log('leader'));
    });
  }
});
