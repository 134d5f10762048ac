// scripts/bench failover: kill -9 the leader while a writer keeps writing; how long from the
// kill to the first acknowledged write? Also counts leader changes while nothing is injected.
import { parseArgs } from 'node:util';
import { ProcessCluster, RawClient, waitFor } from '@bramble/testkit';
import { etcdClient, startEtcdCluster, type BenchClient, type EtcdCluster } from './etcd.js';
import { percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    target: { type: 'string', default: 'bramble' },
    'quiet-seconds': { type: 'string', default: '10' },
    'etcd-heartbeat-ms': { type: 'string', default: '' },
    'etcd-election-ms': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
  },
});

interface Target {
  endpoints: Map<string, string>;
  leader(): Promise<string | undefined>;
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  client(address: string): BenchClient;
  destroy(): Promise<void>;
}

async function bramble(): Promise<Target> {
  const c = await ProcessCluster.start({ masters: 3, logLevel: 'warn' });
  return {
    endpoints: new Map([...c.members.values()].map((m) => [m.name, m.listen])),
    leader: () => c.leader(),
    kill: (n) => c.kill(n, 'SIGKILL'),
    restart: (n) => c.restart(n),
    client: (a) => new RawClient(a, 250) as unknown as BenchClient,
    destroy: () => c.destroy(),
  };
}

async function etcd(): Promise<Target> {
  const hb = values['etcd-heartbeat-ms'] ? Number(values['etcd-heartbeat-ms']) : undefined;
  const el = values['etcd-election-ms'] ? Number(values['etcd-election-ms']) : undefined;
  const c: EtcdCluster = await startEtcdCluster({ heartbeatMs: hb, electionMs: el });
  return {
    endpoints: new Map(c.members.map((m) => [m.name, m.client])),
    leader: () => c.leader(),
    kill: (n) => c.kill(n),
    restart: async (n) => c.restart(n),
    client: (a) => etcdClient(a, 250),
    destroy: () => c.destroy(),
  };
}

/** Write until one succeeds on any of `clients`, from now; returns ms until the first ack. */
async function firstAck(clients: BenchClient[], since: number, trial: number): Promise<number> {
  let i = 0;
  for (;;) {
    const c = clients[i++ % clients.length];
    try {
      await c.kvCall('Put', { key: Buffer.from(`failover/${trial}/${i}`), value: Buffer.from('x') });
      return performance.now() - since;
    } catch {
      if (performance.now() - since > 30_000) throw new Error('no write acknowledged within 30 s of the kill');
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

async function countLeaderChanges(t: Target, seconds: number, load: boolean): Promise<number> {
  const clients = [...t.endpoints.values()].map((a) => t.client(a));
  let changes = 0;
  let last = await t.leader();
  const end = performance.now() + seconds * 1000;
  let writing = load;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      await clients[i % clients.length].kvCall('Put', { key: Buffer.from(`quiet/${i++}`), value: Buffer.from('y') }).catch(() => undefined);
    }
  })();
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await t.leader();
    if (now && last && now !== last) changes++;
    if (now) last = now;
  }
  writing = false;
  await writer;
  for (const c of clients) c.close();
  return changes;
}

async function main(): Promise<void> {
  const trials = Number(values.trials);
  const t = values.target === 'etcd' ? await etcd() : await bramble();
  const samples: number[] = [];
  try {
    const quietIdle = await countLeaderChanges(t, Number(values['quiet-seconds']), false);
    const quietLoad = await countLeaderChanges(t, Number(values['quiet-seconds']), true);
    for (let trial = 1; trial <= trials; trial++) {
      const leader = await waitFor('a leader', () => t.leader(), 20_000);
      const survivors = [...t.endpoints].filter(([n]) => n !== leader).map(([, a]) => t.client(a));
      // Make sure the survivors serve writes before the kill.
      await firstAck(survivors, performance.now(), -trial);
      const killedAt = performance.now();
      await t.kill(leader);
      const ms = await firstAck(survivors, killedAt, trial);
      samples.push(ms);
      for (const c of survivors) c.close();
      console.log(JSON.stringify({ bench: 'failover', target: values.target, trial, killed: leader, first_ack_ms: Math.round(ms) }));
      await t.restart(leader);
      // Let the restarted member rejoin before the next kill.
      await new Promise((r) => setTimeout(r, 1500));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const summary = {
      bench: 'failover',
      target: values.target,
      trials,
      median_ms: Math.round(percentile(sorted, 0.5)),
      p90_ms: Math.round(percentile(sorted, 0.9)),
      max_ms: Math.round(sorted[sorted.length - 1]),
      min_ms: Math.round(sorted[0]),
      leader_changes_idle: quietIdle,
      leader_changes_under_load: quietLoad,
    };
    console.log(JSON.stringify(summary));
    if (!values.json) printTable([summary]);
  } finally {
    await t.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
