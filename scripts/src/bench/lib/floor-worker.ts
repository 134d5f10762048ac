// One emulated node of scripts/bench floor: a bare Node process doing only the per-pod work an
// agent cannot avoid (parse the pod, make its directories, open the log, spawn the process,
// record it, report the status). Started by floor.ts as
//   node floor-worker.js --name nodeK --server 127.0.0.1:PORT --data-dir DIR --address 127.A.B.X
import { spawn } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { Container, ContainerStatus, Pod, PodStatus } from '@bramble/api';
import { serviceClient } from '@bramble/transport';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    server: { type: 'string' },
    'data-dir': { type: 'string' },
    address: { type: 'string' },
  },
});
const node = values.name;
const dataDir = values['data-dir'];
const address = values.address;
if (!node || !values.server || !dataDir || !address) {
  process.stderr.write('usage: floor-worker --name NODE --server HOST:PORT --data-dir DIR --address IP\n');
  process.exit(2);
}

const protoFile = resolve(fileURLToPath(new URL('../../../proto/floor.proto', import.meta.url)));
const Floor = serviceClient(protoFile, 'bramble.benchfloor.Floor');
const client = new Floor(values.server, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;

/** Pids (= process group ids, the children are detached) of the pod processes still running. */
const children = new Set<number>();
let stopping = false;

function fail(message: string): void {
  process.stderr.write(`floor-worker ${node}: ${message}\n`);
}

function killChildren(): void {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') fail(`kill -${pid}: ${(err as Error).message}`);
    }
  }
}

interface Started {
  name: string;
  pid: number;
  startedAt: string;
}

async function startContainer(podDir: string, c: Container, env: Record<string, string>): Promise<Started> {
  const logDir = join(podDir, 'logs', c.name);
  await mkdir(logDir, { recursive: true });
  const log = await open(join(logDir, 'current.log'), 'a');
  const command = [...(c.command ?? []), ...(c.args ?? [])];
  let child;
  try {
    // detached: its own process group, killed as a whole; stdout/stderr straight to the log, as the agent does.
    child = spawn(command[0], command.slice(1), { detached: true, stdio: ['ignore', log.fd, log.fd], cwd: podDir, env });
  } catch (err) {
    await log.close();
    throw err;
  }
  // Listen before awaiting anything: 'spawn' is emitted on the next tick.
  const started = new Promise<Started>((res, rej) => {
    child.once('spawn', () => res({ name: c.name, pid: child.pid!, startedAt: new Date().toISOString() }));
    child.once('error', rej);
  });
  if (child.pid !== undefined) {
    const pid = child.pid;
    children.add(pid);
    child.once('exit', () => children.delete(pid));
  }
  // The child has its own copy of the fd. Await both together: a spawn error must not reject
  // `started` while nothing listens to it yet (an unhandled rejection ends the process).
  const [s] = await Promise.all([started, log.close()]);
  return s;
}

function podStatus(started: Started[], startTime: string): PodStatus {
  const now = new Date().toISOString();
  const cond = (type: string) => ({ type, status: 'True' as const, lastTransitionTime: now });
  const containerStatuses: ContainerStatus[] = started.map((s) => ({
    name: s.name,
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: s.startedAt } },
    containerID: `process://${s.pid}`,
  }));
  return {
    phase: 'Running',
    conditions: [cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
    hostIP: address,
    podIP: address,
    startTime,
    containerStatuses,
  };
}

function reportStatus(podName: string, status: PodStatus): Promise<void> {
  return new Promise((res, rej) =>
    client.ReportStatus({ node, pod_name: podName, status_json: JSON.stringify(status) }, { deadline: new Date(Date.now() + 10_000) }, (err: grpc.ServiceError | null) =>
      err ? rej(err) : res(),
    ),
  );
}

async function startPod(json: string): Promise<void> {
  const startTime = new Date().toISOString();
  const pod = JSON.parse(json) as Pod;
  const uid = pod.metadata.uid!;
  const podDir = join(dataDir!, 'pods', uid);
  // The agent's own variables; BRAMBLE_AGENT_DATA_DIR is its pod marker, so killPodProcesses(dataDir) finds these too.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    POD_IP: address!,
    BRAMBLE_AGENT_DATA_DIR: dataDir!,
    BRAMBLE_POD_UID: uid,
  };
  const started = await Promise.all(pod.spec.containers.map((c) => startContainer(podDir, c, env)));
  const status = podStatus(started, startTime);
  // Record the pids before reporting, as an agent must to find its pods again after a restart.
  const state = { uid, namespace: pod.metadata.namespace, name: pod.metadata.name, containers: started.map((s) => ({ ...s, pgid: s.pid })) };
  await writeFile(join(podDir, 'state.json'), JSON.stringify(state));
  await reportStatus(pod.metadata.name!, status);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  killChildren();
  client.close();
  // Reap the killed children ('exit' removes them) rather than leave zombies to init.
  const deadline = Date.now() + 2000;
  while (children.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

const call = client.Assignments({ node }) as grpc.ClientReadableStream<{ pod_json: string }>;
call.on('data', (a: { pod_json: string }) => {
  startPod(a.pod_json).catch((err: Error) => fail(`pod: ${err.message}`));
});
call.on('error', (err: Error) => {
  if (stopping) return;
  fail(`Assignments stream failed: ${err.message}`);
  void shutdown(1);
});
call.on('end', () => {
  if (stopping) return;
  fail('Assignments stream ended');
  void shutdown(1);
});
