// Every acknowledged write survives kill -9 of every master at once: after a restart
// each key is there with the value, create_revision and mod_revision it was given.
import { describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { mapPool, readPrefix, startCluster } from './helpers.js';

const KEYS = 1000;

describe('durability', () => {
  it('keeps every acknowledged put, with its revisions, across kill -9 of all masters', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const members = cluster.running();

    // 1,000 puts, 32 in flight, spread over every member (followers forward to the leader).
    const keys = Array.from({ length: KEYS }, (_, i) => `durable/${String(i).padStart(4, '0')}`);
    const revisions = await mapPool(keys, 32, async (key, i) => {
      const res = await cluster.client(members[i % members.length]).put(key, `value-${i}`);
      return Number(res.header.revision);
    });
    // The header revision of a Put is the revision that put created: all distinct.
    expect(new Set(revisions).size).toBe(KEYS);

    // What the cluster acknowledged, read back before the crash.
    const before = await readPrefix(cluster.client(members[0]), 'durable/');
    expect(before).toHaveLength(KEYS);
    for (const [i, kv] of before.entries()) {
      expect(kv).toMatchObject({ key: keys[i], value: `value-${i}`, modRevision: revisions[i], createRevision: revisions[i], version: 1 });
    }

    await Promise.all(members.map((m) => cluster.kill(m, 'SIGKILL')));
    expect(cluster.running()).toEqual([]);
    for (const m of members) await cluster.restart(m);
    await cluster.waitForLeader(20_000);

    for (const m of members) {
      // A linearizable read on every member: each one serves the whole history.
      const after = await waitFor(`${m} to serve a linearizable read after the restart`, () => readPrefix(cluster.client(m), 'durable/'), 15_000);
      expect(after, `data on ${m} after kill -9 and restart`).toEqual(before);
    }
  });
});
