// scripts/bench floor: the least CPU and time this machine needs for the agent side of starting
// pods, i.e. "if the masters cost nothing, how fast could --nodes agent processes start --pods pods?"
// No Raft, no controllers, no watch fan-out, no real agent: this process serves a tiny gRPC
// service (scripts/proto/floor.proto) and starts --nodes bare worker processes (floor-worker.ts,
// with the agent's V8 flags and MALLOC_ARENA_MAX=2). Each pod costs a worker what it costs an
// agent at least: one stream message in, JSON.parse, mkdir + open log + spawn + state file, one
// unary call out. Measures, from dispatch of each pod to its Running status arriving here:
//   - time from the first dispatch to all pods Running, and pod startup latency p50 / p99 / max,
//   - CPU seconds of the workers and of this process while pods start,
// then, after --idle-seconds, the workers' RSS: what any agent pays before doing anything else.
// Compare with scripts/bench schedule at the same --pods / --nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { randomSuffix, type Pod, type PodStatus } from '@bramble/api';
import { killPodProcesses, waitFor } from '@bramble/testkit';
import { serviceDefinition } from '@bramble/transport';
import { rssMb, totalCpuSeconds } from './lib/proc.js';
import { percentile, printTable } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    nodes: { type: 'string', default: '50' },
    command: { type: 'string', default: 'sleep 3600' },
    /** Pods per second, spread evenly from the first dispatch; 0 sends them all at once. */
    'dispatch-rate': { type: 'string', default: '0' },
    /** The agent's own V8 flags (packages/cli/bin/bramble-agent.js). */
    'worker-node-args': { type: 'string', default: '--max-semi-space-size=1 --no-opt --no-sparkplug' },
    'idle-seconds': { type: 'string', default: '2' },
    /** How long to wait, after the last pod was dispatched, for all of them to be Running. */
    'timeout-seconds': { type: 'string', default: '60' },
  },
});

const protoFile = resolve(fileURLToPath(new URL('../../proto/floor.proto', import.meta.url)));
const workerScript = fileURLToPath(new URL('./lib/floor-worker.js', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Set when a worker dies early or this process is told to stop: every wait gives up at once. */
let failure: string | undefined;

/** Poll `done` every 20 ms until true; throws on timeout or `failure`. */
async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (failure) throw new Error(`${failure} (while waiting for ${what})`);
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A pod as a Deployment's ReplicaSet creates it, after the scheduler bound it to `nodeName`. */
function pod(name: string, hash: string, rsUid: string, nodeName: string, command: string[]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `bench-${hash}-`,
      namespace: 'default',
      uid: randomUUID(),
      resourceVersion: String(1000 + randomInt(1_000_000)),
      labels: { app: 'bench', 'pod-template-hash': hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `bench-${hash}`, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
    spec: {
      nodeName,
      containers: [{ name: 'sleeper', command, resources: { requests: { cpu: '50m', memory: '8Mi' } } }],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      // Kubernetes' DefaultTolerationSeconds admission adds these to every pod.
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: { phase: 'Pending' },
  } as Pod;
}

interface Worker {
  name: string;
  dataDir: string;
  proc: ChildProcess;
  exited: boolean;
}

async function main(): Promise<void> {
  const pods = Number(values.pods);
  const nodes = Number(values.nodes);
  const rate = Number(values['dispatch-rate']);
  const idleSeconds = Number(values['idle-seconds']);
  const timeoutMs = Number(values['timeout-seconds']) * 1000;
  if (!(pods > 0) || !(nodes > 0) || nodes > 200) throw new Error('--pods > 0 and 0 < --nodes <= 200');
  if (!(rate >= 0) || !(idleSeconds >= 0) || !(timeoutMs > 0)) throw new Error('--dispatch-rate >= 0, --idle-seconds >= 0, --timeout-seconds > 0');
  const command = values.command!.split(' ').filter(Boolean);
  const nodeArgs = values['worker-node-args']!.split(' ').filter(Boolean);
  // Node addresses as the test clusters pick them: 127.A.B.11, .12, ... with A.B random.
  const subnet = `127.${1 + randomInt(254)}.${randomInt(256)}`;

  const onSignal = (sig: string) => {
    failure = `interrupted by ${sig}`;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const dir = await mkdtemp(join(tmpdir(), 'bench-floor-'));
  const streams = new Map<string, grpc.ServerWritableStream<{ node: string }, { pod_json: string }>>();
  const dispatched = new Map<string, number>();
  const running = new Map<string, number>();
  const podPids = new Set<number>();
  const workers: Worker[] = [];
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const server = new grpc.Server();
  server.addService(serviceDefinition(protoFile, 'bramble.benchfloor.Floor'), {
    Assignments: (call: grpc.ServerWritableStream<{ node: string }, { pod_json: string }>) => {
      streams.set(call.request.node, call);
      call.on('cancelled', () => streams.delete(call.request.node));
    },
    ReportStatus: (call: grpc.ServerUnaryCall<{ node: string; pod_name: string; status_json: string }, object>, callback: grpc.sendUnaryData<object>) => {
      const now = performance.now();
      const status = JSON.parse(call.request.status_json) as PodStatus;
      for (const c of status.containerStatuses ?? []) {
        const pid = Number(c.containerID?.replace('process://', ''));
        if (pid > 0) podPids.add(pid);
      }
      if (status.phase === 'Running' && !running.has(call.request.pod_name)) running.set(call.request.pod_name, now);
      callback(null, {});
    },
  });

  try {
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
    );
    const startedWorkers = performance.now();
    for (let n = 1; n <= nodes; n++) {
      const name = `node${n}`;
      const dataDir = join(dir, name);
      const args = [...nodeArgs, workerScript, '--name', name, '--server', `127.0.0.1:${port}`, '--data-dir', dataDir, '--address', `${subnet}.${10 + n}`];
      const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
      const w: Worker = { name, dataDir, proc, exited: false };
      proc.once('exit', (code, signal) => {
        w.exited = true;
        if (!stopping) failure ??= `worker ${name} exited early (code ${code}, signal ${signal})`;
      });
      proc.once('error', (err) => {
        w.exited = true;
        failure ??= `worker ${name}: ${err.message}`;
      });
      workers.push(w);
    }
    // Each worker spends a few hundred ms of CPU loading grpc-js: allow for many of them on few cores.
    await until(`${nodes} workers to open their Assignments streams`, () => streams.size >= nodes, Math.max(30_000, nodes * 1000));
    process.stderr.write(`${nodes} workers up in ${Math.round(performance.now() - startedWorkers)} ms\n`);

    // Pods are built and serialized before the clock starts: the masters' side is not measured.
    const hash = randomSuffix(Math.random, 10);
    const rsUid = randomUUID();
    const names = new Set<string>();
    const batch: Array<{ name: string; node: string; json: string }> = [];
    for (let i = 0; i < pods; i++) {
      let name: string;
      do name = `bench-${hash}-${randomSuffix(Math.random)}`;
      while (names.has(name));
      names.add(name);
      const node = workers[i % nodes].name;
      batch.push({ name, node, json: JSON.stringify(pod(name, hash, rsUid, node, command)) });
    }

    const workerPids = workers.map((w) => w.proc.pid!);
    const sum = (): number => totalCpuSeconds(workerPids);
    const cpuBefore = sum();
    const benchCpuBefore = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    const sendDue = (due: number) => {
      for (; sent < due; sent++) {
        const p = batch[sent];
        dispatched.set(p.name, performance.now());
        streams.get(p.node)!.write({ pod_json: p.json });
      }
    };
    if (rate === 0) sendDue(pods);
    else {
      // Due counts from t0, not from the last tick, so timer lateness never accumulates.
      const due = () => Math.min(pods, 1 + Math.floor(((performance.now() - t0) * rate) / 1000));
      sendDue(due());
      timer = setInterval(() => sendDue(due()), Math.min(20, Math.max(1, 1000 / rate)));
      await until('all pods dispatched', () => sent >= pods, (pods / rate) * 1000 + timeoutMs);
      clearInterval(timer);
    }
    await until(`${pods} pods Running`, () => running.size >= pods, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message} (dispatched ${sent}, running ${running.size})`);
    });
    const cpuWorkers = sum() - cpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const allRunningMs = Math.max(...running.values()) - t0;
    const startup = [...running].map(([name, t]) => t - dispatched.get(name)!).sort((a, b) => a - b);

    const idleEnd = performance.now() + idleSeconds * 1000;
    await until('the idle period', () => performance.now() >= idleEnd, idleSeconds * 1000 + 1000);
    const rss = workerPids.map((pid) => rssMb(pid)).sort((a, b) => a - b);
    const result = {
      bench: 'floor',
      pods,
      nodes,
      dispatch_rate: rate,
      all_running_ms: Math.round(allRunningMs),
      startup_p50_ms: Math.round(percentile(startup, 0.5)),
      startup_p99_ms: Math.round(percentile(startup, 0.99)),
      startup_max_ms: Math.round(startup[startup.length - 1]),
      pods_per_second: Math.round((pods / allRunningMs) * 1000),
      cpu_s_workers: Math.round(cpuWorkers * 100) / 100,
      /** This process: dispatch and status handling (it shares the machine too). */
      cpu_s_bench: Math.round(((benchCpu.user + benchCpu.system) / 1e6) * 100) / 100,
      cpu_ms_per_pod_workers: Math.round(((cpuWorkers * 1000) / pods) * 100) / 100,
      worker_rss_median_mb: percentile(rss, 0.5),
      worker_rss_max_mb: rss[rss.length - 1],
    };
    console.log(JSON.stringify(result));
    printTable([result]);
  } finally {
    stopping = true;
    if (timer) clearInterval(timer);
    // Workers kill their pods' process groups on SIGTERM.
    for (const w of workers) if (!w.exited) w.proc.kill('SIGTERM');
    const allExited = () => workers.every((w) => w.exited);
    const exited = await waitFor('workers to exit', allExited, 5000, 20).then(() => true, () => false);
    if (!exited) {
      for (const w of workers) if (!w.exited) w.proc.kill('SIGKILL');
      await waitFor('killed workers to exit', allExited, 2000, 20).catch(() => undefined);
    }
    // Safety nets: the pods we heard of, then any pod process carrying a worker's data-dir marker.
    for (const pid of podPids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') process.stderr.write(`bench floor: kill -${pid}: ${(err as Error).message}\n`);
      }
    }
    for (const w of workers) killPodProcesses(w.dataDir);
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench floor: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
