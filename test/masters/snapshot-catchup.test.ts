// A follower that was down while the leader compacted its log past it is caught up
// with a snapshot (InstallSnapshot), and then serves everything locally.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { mapPool, readPrefix, startCluster } from './helpers.js';

const KEYS = 2000;

describe('snapshot catch-up', () => {
  it('catches a restarted follower up by snapshot once the leader has compacted its log', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50, snapshotEntries: 200, snapshotCatchUpEntries: 50 });
    const leader = await cluster.waitForLeader();
    const [lagging, other] = cluster.running().filter((n) => n !== leader);
    const laggingLastIndex = Number((await cluster.client(lagging).status()).last_index);
    await cluster.kill(lagging, 'SIGKILL');

    const keys = Array.from({ length: KEYS }, (_, i) => `snap/${String(i).padStart(4, '0')}`);
    const live = [leader, other];
    await mapPool(keys, 32, (key, i) => cluster.client(live[i % 2]).put(key, `value-${i}`));
    const leaderStatus = await cluster.client(leader).status();
    // The leader snapshotted and kept only snapshotCatchUpEntries (50) behind it: its log
    // no longer holds what comes after the lagging member's last entry.
    expect(Number(leaderStatus.snapshot_index) - 50).toBeGreaterThan(laggingLastIndex + 1);

    await cluster.restart(lagging);
    const caughtUp = await waitFor(
      `${lagging} to apply up to the leader's ${leaderStatus.applied_index}`,
      async () => {
        const s = await cluster.client(lagging).status();
        return Number(s.applied_index) >= Number(leaderStatus.applied_index) ? s : undefined;
      },
      20_000,
    );
    // No write happened meanwhile: it holds exactly what the leader applied.
    expect(Number(caughtUp.applied_index)).toBe(Number((await cluster.client(leader).status()).applied_index));
    expect(Number(caughtUp.snapshot_index)).toBeGreaterThan(0);
    expect(readFileSync(cluster.members.get(lagging)!.log, 'utf8')).toContain('installing snapshot');

    // A serializable read is served from its own state: every key, every value.
    const kvs = await readPrefix(cluster.client(lagging), 'snap/', { serializable: true });
    expect(kvs.map((kv) => kv.key)).toEqual(keys);
    for (const [i, kv] of kvs.entries()) expect(kv.value).toBe(`value-${i}`);
    expect(kvs).toEqual(await readPrefix(cluster.client(leader), 'snap/'));
  });
});
