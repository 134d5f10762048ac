// scripts/bench memory: RSS of each master, idle, after storing N keys (default 10,000).
import { parseArgs } from 'node:util';
import { ProcessCluster } from '@bramble/testkit';
import { rssMb } from './lib/proc.js';
import { printTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000' },
    'value-size': { type: 'string', default: '256' },
    'idle-seconds': { type: 'string', default: '30' },
    'node-args': { type: 'string', default: '' },
  },
});

async function main(): Promise<void> {
  const keys = Number(values.keys);
  const value = Buffer.alloc(Number(values['value-size']), 'v');
  const nodeArgs = values['node-args'] ? values['node-args'].split(' ').filter(Boolean) : undefined;
  const cluster = await ProcessCluster.start({ masters: 3, logLevel: 'warn', nodeArgs });
  try {
    const names = [...cluster.members.keys()];
    const before = Object.fromEntries(names.map((n) => [n, rssMb(cluster.members.get(n)!.proc!.pid!)]));
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        const c = cluster.client(names[w % names.length]);
        for (;;) {
          const i = next++;
          if (i >= keys) return;
          await c.kvCall('Put', { key: Buffer.from(`/registry/bench/${String(i).padStart(6, '0')}`), value });
        }
      }),
    );
    await new Promise((r) => setTimeout(r, Number(values['idle-seconds']) * 1000));
    const rows = await Promise.all(
      names.map(async (n) => {
        const m = cluster.members.get(n)!;
        const metrics = await (await fetch(`http://${m.http}/metrics`)).text();
        const mb = (name: string) => Math.round((Number(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+]+)`, 'm').exec(metrics)?.[1] ?? 0) / 1048576) * 10) / 10;
        return {
          member: n,
          rss_start_mb: before[n],
          rss_idle_mb: rssMb(m.proc!.pid!),
          heap_used_mb: mb('nodejs_heap_size_used_bytes'),
          heap_total_mb: mb('nodejs_heap_size_total_bytes'),
          external_mb: mb('nodejs_external_memory_bytes'),
          keys,
        };
      }),
    );
    for (const r of rows) console.log(JSON.stringify({ bench: 'memory', ...r }));
    printTable(rows);
  } finally {
    await cluster.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
