// Leader failure under load: SIGKILL of the leader (three times, restarting it in
// between) never loses an acknowledged write and stops writes only briefly; SIGTERM of
// the leader hands leadership over before the process exits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { BackgroundWriters, readPrefix, startCluster } from './helpers.js';

const TICK_MS = 50;
const ELECTION_TICKS = 10;

describe('leader failover', () => {
  it('elects a new leader after each SIGKILL of the leader; writes continue and none acknowledged is lost', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: TICK_MS, electionTicks: ELECTION_TICKS });
    const writers = new BackgroundWriters(cluster, { prefix: 'failover', writers: 6, timeoutMs: 1500, retrySameKey: true });
    try {
      await waitFor('the first writes', () => writers.acks.length >= 50, 10_000);
      for (let round = 1; round <= 3; round++) {
        const old = await cluster.waitForLeader();
        const killedAtMs = Date.now();
        await cluster.kill(old, 'SIGKILL');
        const next = await cluster.waitForLeader(10_000);
        expect(next, `round ${round}: the new leader`).not.toBe(old);
        // Writes sent after the kill are acknowledged: the cluster kept serving.
        await waitFor(`round ${round}: 30 writes sent after killing ${old} acknowledged`, () => writers.ackedSince(killedAtMs) >= 30, 15_000);
        await cluster.restart(old);
        await cluster.waitForMembers([old]);
      }
    } finally {
      await writers.stop();
    }

    const acked = new Map(writers.acks.map((a) => [a.key, a.value]));
    expect(acked.size).toBeGreaterThan(100);
    for (const member of cluster.running()) {
      const stored = new Map((await readPrefix(cluster.client(member), 'failover/')).map((kv) => [kv.key, kv.value]));
      const missing = [...acked].filter(([k, v]) => stored.get(k) !== v).map(([k]) => k);
      expect(missing, `acknowledged writes missing on ${member}`).toEqual([]);
    }
  });

  it('hands leadership over on SIGTERM of the leader', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: TICK_MS, electionTicks: ELECTION_TICKS });
    const old = await cluster.waitForLeader();
    const oldTerm = Number((await cluster.client(old).status()).term);
    await cluster.client(old).put('before-sigterm', 'x');

    const sentAtMs = Date.now();
    await cluster.kill(old, 'SIGTERM');
    const next = await cluster.waitForLeader(5_000);
    const tookMs = Date.now() - sentAtMs;

    const proc = cluster.members.get(old)!.proc!;
    expect(proc.exitCode, `${old} exit code after SIGTERM`).toBe(0);
    const log = readFileSync(cluster.members.get(old)!.log, 'utf8');
    const handOver = log
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg?: string; transferee?: string })
      .find((l) => l.msg?.includes('handing leadership over'));
    expect(handOver, `${old}'s log says it hands leadership over`).toBeDefined();
    // The member it handed over to is the one leading now, one term later: a transfer,
    // not an election after the old leader's silence.
    expect(next).toBe(handOver!.transferee);
    const status = await cluster.client(next).status();
    expect(Number(status.term)).toBe(oldTerm + 1);
    // Faster than followers would notice a dead leader (an election timeout) and elect.
    expect(tookMs).toBeLessThan(TICK_MS * ELECTION_TICKS * 2 + 1000);

    const res = await cluster.client(next).get('before-sigterm');
    expect(Buffer.from(res.kvs[0].value).toString()).toBe('x');
    await cluster.client(next).put('after-sigterm', 'y');
  });
});
