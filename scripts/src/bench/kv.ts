// scripts/bench kv: put / get / mixed throughput and latency against a 3-member cluster
// started for the run (or --endpoints of a running one; --target etcd for a local etcd).
import { parseArgs } from 'node:util';
import { ProcessCluster, RawClient } from '@bramble/testkit';
import { etcdClient, startEtcdCluster, type BenchClient, type EtcdCluster } from './etcd.js';
import { percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'put,get,mixed' },
    clients: { type: 'string', default: '1,64' },
    ops: { type: 'string', default: '5000' },
    'value-size': { type: 'string', default: '256' },
    keys: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '' },
    target: { type: 'string', default: 'bramble' },
    'node-args': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
  },
});

interface Result {
  target: string;
  mode: string;
  clients: number;
  ops: number;
  errors: number;
  seconds: number;
  ops_per_s: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  loadgen_cpu: number;
}

const valueSize = Number(values['value-size']);
const keySpace = Number(values.keys);
const value = Buffer.alloc(valueSize, 'x');

async function run(target: string, endpoints: string[], mode: string, clients: number, ops: number): Promise<Result> {
  // One gRPC channel per endpoint per 16 clients, spread across members as etcd's benchmark does.
  const channels: BenchClient[] = [];
  const channelCount = Math.max(1, Math.min(clients, endpoints.length * Math.ceil(clients / 16)));
  for (let i = 0; i < channelCount; i++) {
    const address = endpoints[i % endpoints.length];
    channels.push(target === 'etcd' ? etcdClient(address) : (new RawClient(address, 10_000) as unknown as BenchClient));
  }
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const ch = channels[c % channels.length];
      for (;;) {
        const i = next++;
        if (i >= ops) return;
        const key = Buffer.from(`bench/${(i * 7919) % keySpace}`);
        const isPut = mode === 'put' || (mode === 'mixed' && i % 2 === 0);
        const t0 = performance.now();
        try {
          if (isPut) await ch.kvCall('Put', { key, value });
          else await ch.kvCall('Range', { key });
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (const ch of channels) ch.close();
  latencies.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    target,
    mode,
    clients,
    ops,
    errors,
    seconds: r2(seconds),
    ops_per_s: Math.round(latencies.length / seconds),
    p50_ms: r2(percentile(latencies, 0.5)),
    p90_ms: r2(percentile(latencies, 0.9)),
    p99_ms: r2(percentile(latencies, 0.99)),
    max_ms: r2(latencies[latencies.length - 1] ?? 0),
    // Share of one core the load generator itself used: near 1.0 means it, not the cluster, limits.
    loadgen_cpu: r2((cpu.user + cpu.system) / 1e6 / seconds),
  };
}

async function main(): Promise<void> {
  let cluster: ProcessCluster | undefined;
  let etcd: EtcdCluster | undefined;
  let endpoints = values.endpoints ? values.endpoints.split(',') : [];
  const target = values.target!;
  try {
    if (endpoints.length === 0) {
      if (target === 'etcd') {
        etcd = await startEtcdCluster();
        endpoints = etcd.endpoints;
      } else {
        const nodeArgs = values['node-args'] ? values['node-args'].split(' ').filter(Boolean) : undefined;
        cluster = await ProcessCluster.start({ masters: 3, logLevel: 'warn', nodeArgs });
        endpoints = cluster.endpoints();
      }
    }
    const results: Result[] = [];
    // Warm up (JIT, connections, leader) and fill the key space so gets find data.
    await run(target, endpoints, 'put', 64, Math.min(keySpace, 5000));
    for (const mode of values.mode!.split(',')) {
      for (const clients of values.clients!.split(',').map(Number)) {
        const ops = clients === 1 ? Math.min(Number(values.ops), 2000) : Number(values.ops);
        const r = await run(target, endpoints, mode, clients, ops);
        results.push(r);
        console.log(JSON.stringify({ bench: 'kv', ...r }));
      }
    }
    if (!values.json) printTable(results as unknown as Array<Record<string, unknown>>);
  } finally {
    await cluster?.destroy();
    await etcd?.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});

export { run, type Result };
