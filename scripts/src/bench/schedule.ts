// scripts/bench schedule: how fast the orchestrator turns one apply into running processes.
// Starts 3 masters and --nodes agent processes (node1.. on 127.A.B.11.., A.B random), applies one
// Deployment of --pods replicas (each pod a small process: `sleep`), and measures, from a
// watch on the pods:
//   - time from apply to all pods Running,
//   - pod startup latency (first seen created -> first seen Running) p50 / p99 / max,
// then, after --idle-seconds, the agents' RSS (the goal is <= 60 MB idle).
// Anchors: Kubernetes' pod-startup SLO p99 <= 5 s; its density test creates 20 pods/s.
import { parseArgs } from 'node:util';
import type { Deployment, Pod } from '@bramble/api';
import { OrchestratorCluster, waitFor } from '@bramble/testkit';
import { rssMb, totalCpuSeconds } from './lib/proc.js';
import { percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    nodes: { type: 'string', default: '50' },
    masters: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '15' },
    'timeout-seconds': { type: 'string', default: '120' },
    command: { type: 'string', default: 'sleep 3600' },
    /** e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the masters. */
    'master-node-args': { type: 'string', default: '' },
    /** The same for the agents. */
    'agent-node-args': { type: 'string', default: '' },
    /** nice value of the agents and their pods (see OrchestratorClusterOptions.agentNice). */
    'agent-nice': { type: 'string', default: '0' },
    /** Also print, per 250 ms after the apply, how many pods were created, bound and Running by then. */
    timeline: { type: 'boolean', default: false },
  },
});

function deployment(replicas: number, command: string[]): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'bench', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'bench' } },
      template: {
        metadata: { labels: { app: 'bench' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'sleeper', command, resources: { requests: { cpu: '50m', memory: '8Mi' } } }],
        },
      },
    },
  } as Deployment;
}

/** Cumulative counts per 250 ms step: where a run queues (creating, binding or starting). */
function printTimeline(t0: number, endMs: number, seen: Record<string, Map<string, number>>): void {
  const rows: Array<Record<string, number>> = [];
  for (let at = 250; at < endMs + 250; at += 250) {
    const row: Record<string, number> = { at_ms: at };
    for (const [name, times] of Object.entries(seen)) row[name] = [...times.values()].filter((t) => t - t0 <= at).length;
    rows.push(row);
  }
  printTable(rows);
}

async function main(): Promise<void> {
  const pods = Number(values.pods);
  const nodes = Number(values.nodes);
  if (!(pods > 0) || !(nodes > 0) || nodes > 200) throw new Error('--pods > 0 and 0 < --nodes <= 200');
  const startedCluster = Date.now();
  const nodeArgs = values['master-node-args'] ? values['master-node-args'].split(' ').filter(Boolean) : undefined;
  const agentNodeArgs = values['agent-node-args'] ? values['agent-node-args'].split(' ').filter(Boolean) : undefined;
  const cluster = await OrchestratorCluster.start({ masters: Number(values.masters), agents: nodes, logLevel: 'warn', nodeArgs, agentNodeArgs, agentNice: Number(values['agent-nice']) });
  process.stderr.write(`cluster of ${values.masters} masters and ${nodes} agents up in ${Date.now() - startedCluster} ms\n`);
  try {
    const api = cluster.resources();
    const seenCreated = new Map<string, number>();
    const seenRunning = new Map<string, number>();
    const seenBound = new Map<string, number>();
    const list = await api.list('Pod', { namespace: 'default', labelSelector: 'app=bench' });
    const watch = api.watch('Pod', { namespace: 'default', labelSelector: 'app=bench', resourceVersion: list.resourceVersion }, (event) => {
      const pod = event.object as Pod;
      const uid = pod.metadata.uid;
      if (!uid || event.type === 'BOOKMARK') return;
      const now = performance.now();
      if (!seenCreated.has(uid)) seenCreated.set(uid, now);
      if (pod.spec.nodeName && !seenBound.has(uid)) seenBound.set(uid, now);
      if (pod.status?.phase === 'Running' && !seenRunning.has(uid)) seenRunning.set(uid, now);
    });
    const agentPids = [...cluster.agents.values()].map((a) => a.proc!.pid!);
    const masterPids = [...cluster.masters.members.values()].map((m) => m.proc!.pid!);
    const cpuBefore = { agents: totalCpuSeconds(agentPids), masters: totalCpuSeconds(masterPids) };
    const benchCpuBefore = process.cpuUsage();
    const t0 = performance.now();
    await api.apply(deployment(pods, values.command!.split(' ').filter(Boolean)));
    await waitFor(`${pods} pods Running`, () => seenRunning.size >= pods, Number(values['timeout-seconds']) * 1000, 20).catch((err: Error) => {
      throw new Error(`${err.message} (created ${seenCreated.size}, running ${seenRunning.size})`);
    });
    const allRunningMs = Math.max(...seenRunning.values()) - t0;
    // Revisions = committed writes (creates, binds, status, events, owner status) while starting them.
    const revisionAfter = Number((await api.list('Namespace')).resourceVersion);
    const writesPerPod = (revisionAfter - Number(list.resourceVersion)) / pods;
    const cpuUsed = { agents: totalCpuSeconds(agentPids) - cpuBefore.agents, masters: totalCpuSeconds(masterPids) - cpuBefore.masters };
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const firstRunningMs = Math.min(...seenRunning.values()) - t0;
    const startup = [...seenRunning].map(([uid, t]) => t - seenCreated.get(uid)!).sort((a, b) => a - b);
    // Where the time goes: created -> bound (controllers) and bound -> Running (agents).
    const toBind = [...seenBound].map(([uid, t]) => t - seenCreated.get(uid)!).sort((a, b) => a - b);
    const toRun = [...seenRunning].map(([uid, t]) => t - (seenBound.get(uid) ?? seenCreated.get(uid)!)).sort((a, b) => a - b);
    const lastCreatedMs = Math.max(...seenCreated.values()) - t0;
    watch.close();

    const perNode = new Map<string, number>();
    for (const p of (await api.list('Pod', { namespace: 'default', labelSelector: 'app=bench' })).items) {
      perNode.set(p.spec.nodeName ?? '-', (perNode.get(p.spec.nodeName ?? '-') ?? 0) + 1);
    }
    const idleSeconds = Number(values['idle-seconds']);
    const idleCpuBefore = { agents: totalCpuSeconds(agentPids), masters: totalCpuSeconds(masterPids) };
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleCpuPerSecond = {
      agents: (totalCpuSeconds(agentPids) - idleCpuBefore.agents) / idleSeconds,
      masters: (totalCpuSeconds(masterPids) - idleCpuBefore.masters) / idleSeconds,
    };
    const agentRssFile = [...cluster.agents.values()].map((a) => rssMb(a.proc!.pid!, 'RssFile')).sort((a, b) => a - b);
    const agentRss = [...cluster.agents.values()].map((a) => rssMb(a.proc!.pid!)).sort((a, b) => a - b);
    const masterRss = [...cluster.masters.members.values()].map((m) => rssMb(m.proc!.pid!)).sort((a, b) => a - b);
    const result = {
      bench: 'schedule',
      pods,
      nodes,
      masters: Number(values.masters),
      all_running_ms: Math.round(allRunningMs),
      first_running_ms: Math.round(firstRunningMs),
      pods_per_second: Math.round((pods / allRunningMs) * 1000),
      startup_p50_ms: Math.round(percentile(startup, 0.5)),
      startup_p99_ms: Math.round(percentile(startup, 0.99)),
      startup_max_ms: Math.round(startup[startup.length - 1]),
      last_created_ms: Math.round(lastCreatedMs),
      bind_p50_ms: Math.round(percentile(toBind, 0.5)),
      bind_p99_ms: Math.round(percentile(toBind, 0.99)),
      run_after_bind_p50_ms: Math.round(percentile(toRun, 0.5)),
      run_after_bind_p99_ms: Math.round(percentile(toRun, 0.99)),
      pods_per_node_min: Math.min(...perNode.values()),
      pods_per_node_max: Math.max(...perNode.values()),
      agent_rss_idle_median_mb: percentile(agentRss, 0.5),
      agent_rss_idle_max_mb: agentRss[agentRss.length - 1],
      agent_rss_file_median_mb: percentile(agentRssFile, 0.5),
      master_rss_max_mb: masterRss[masterRss.length - 1],
      writes_per_pod: Math.round(writesPerPod * 10) / 10,
      cpu_s_agents: Math.round(cpuUsed.agents * 10) / 10,
      cpu_s_masters: Math.round(cpuUsed.masters * 10) / 10,
      /** This process: the apply and the watch that times every pod (it shares the machine too). */
      cpu_s_bench: Math.round(((benchCpu.user + benchCpu.system) / 1e6) * 10) / 10,
      idle_cpu_s_per_s_agents: Math.round(idleCpuPerSecond.agents * 100) / 100,
      idle_cpu_s_per_s_masters: Math.round(idleCpuPerSecond.masters * 100) / 100,
    };
    console.log(JSON.stringify(result));
    printTable([result]);
    if (values.timeline) printTimeline(t0, allRunningMs, { created: seenCreated, bound: seenBound, running: seenRunning });
  } finally {
    // A profiled master writes its profile only when it exits normally.
    if (nodeArgs) for (const name of cluster.masters.members.keys()) await cluster.masters.kill(name, 'SIGTERM');
    if (agentNodeArgs) for (const name of cluster.agents.keys()) await cluster.killAgent(name, 'SIGTERM');
    await cluster.destroy();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench schedule: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
