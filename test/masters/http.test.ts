// The HTTP side of a master: Prometheus /metrics, /healthz and /readyz.
import { describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { httpGet, startCluster } from './helpers.js';

const METRICS = [
  'bramble_raft_term',
  'bramble_raft_commit_index',
  'bramble_raft_applied_index',
  'bramble_disk_fsync_duration_seconds',
  'bramble_apply_duration_seconds',
  'bramble_raft_proposals_total',
  'bramble_peer_errors_total',
];

/** The value of an unlabelled-by-us sample `name{member="..."}` in Prometheus text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`no sample ${name} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('http endpoints', () => {
  it('serves /metrics with the raft, disk and apply metrics, and /healthz and /readyz', async () => {
    const cluster = await startCluster({ masters: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 20; i++) await cluster.client(leader).put(`http/${i}`, 'v');
    const status = await cluster.client(leader).status();

    for (const name of cluster.running()) {
      const http = cluster.members.get(name)!.http;
      const health = await httpGet(http, '/healthz');
      expect(health, `${name} /healthz`).toEqual({ status: 200, body: 'ok\n' });
      await waitFor(`${name} /readyz`, async () => (await httpGet(http, '/readyz')).status === 200, 5_000);
      const notFound = await httpGet(http, '/nope');
      expect(notFound.status).toBe(404);

      const metrics = await httpGet(http, '/metrics');
      expect(metrics.status).toBe(200);
      for (const m of METRICS) expect(metrics.body, `${name} /metrics has ${m}`).toMatch(new RegExp(`^# TYPE ${m} `, 'm'));
      expect(metrics.body).toContain(`member="${name}"`);
      expect(sample(metrics.body, 'bramble_raft_term')).toBe(Number(status.term));
      expect(sample(metrics.body, 'bramble_raft_commit_index')).toBeGreaterThanOrEqual(20);
      expect(sample(metrics.body, 'bramble_raft_applied_index')).toBeGreaterThanOrEqual(20);
      // Every member persisted entries with fsync and applied them.
      expect(sample(metrics.body, 'bramble_disk_fsync_duration_seconds_count')).toBeGreaterThan(0);
      expect(sample(metrics.body, 'bramble_apply_duration_seconds_count')).toBeGreaterThan(0);
      if (name === leader) expect(sample(metrics.body, 'bramble_raft_proposals_total')).toBeGreaterThanOrEqual(20);
    }

    // A member that has lost its quorum is alive but not ready.
    const survivor = cluster.running().find((n) => n !== leader)!;
    for (const name of cluster.running().filter((n) => n !== survivor)) await cluster.kill(name, 'SIGKILL');
    const http = cluster.members.get(survivor)!.http;
    const notReady = await waitFor(`${survivor} /readyz to report no leader`, async () => {
      const r = await httpGet(http, '/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toContain('no leader');
    expect((await httpGet(http, '/healthz')).status).toBe(200);
    // And it counts the errors of talking to its dead peers.
    await waitFor(`${survivor} to count peer errors`, async () => sample((await httpGet(http, '/metrics')).body, 'bramble_peer_errors_total') > 0);
  });
});
