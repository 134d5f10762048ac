// scripts/cluster: the local supervisor. Starts masters (and, later, agents) as detached
// processes, each with its own data dir and log file under the cluster directory, records
// them in cluster.json, and stops exactly those processes.
import { existsSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';
import { defaultConfigPath, writeContext } from '@bramble/cli';
import { BrambleClient } from '@bramble/client';
import { killPodProcesses, newJoinToken } from '@bramble/testkit';
import { KUBELET_PORT, agentArgs, api, applyAll, nextAgentSpec, readManifestDir, removeNode, waitForNodesReady, type AgentSpec } from './agents.js';
import { assertPortFree, spawnDetached, stopProcess, waitUntil } from './processes.js';
import { isOurProcess, readState, statePath, writeState, type ClusterState, type ProcessRecord } from './state.js';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const cliBin = join(repo, 'packages/cli/bin/bramble.js');
const agentBin = join(repo, 'packages/cli/bin/bramble-agent.js');

interface StatusReply {
  member: string;
  leader: string;
  term: number;
  role: string;
  commit_index: number;
  applied_index: number;
  revision: number;
}

function clusterDirFrom(opts: { data?: string }): string {
  return resolve(opts.data ?? process.env.BRAMBLE_CLUSTER_DIR ?? join(repo, '.bramble'));
}

function requireState(dir: string): ClusterState {
  const state = readState(dir);
  if (!state) throw new Error(`no cluster recorded in ${statePath(dir)}; start one with 'scripts/cluster up'`);
  return state;
}

function findProcess(state: ClusterState, name: string): ProcessRecord {
  const rec = state.processes.find((p) => p.name === name);
  if (!rec) throw new Error(`no process named ${name} (known: ${state.processes.map((p) => p.name).join(', ')})`);
  return rec;
}

async function status(address: string, timeoutMs = 1000): Promise<StatusReply> {
  const Ctor = serviceClient('cluster.proto', 'bramble.cluster.Cluster');
  const client = new Ctor(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Status(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: StatusReply) => void): void;
  };
  try {
    return await new Promise<StatusReply>((res, rej) =>
      client.Status({}, { deadline: new Date(Date.now() + timeoutMs) }, (err, reply) => (err ? rej(err) : res(reply))),
    );
  } finally {
    client.close();
  }
}

async function currentLeader(state: ClusterState): Promise<string | undefined> {
  for (const rec of state.processes.filter((p) => p.kind === 'master')) {
    try {
      const s = await status(rec.address);
      if (s.leader) return s.leader;
    } catch {
      // try the next member
    }
  }
  return undefined;
}

function masterArgs(name: string, listen: string, http: string, peers: string, dataDir: string): string[] {
  return [cliBin, 'master', '--name', name, '--listen', listen, '--http', http, '--peers', peers, '--data-dir', dataDir];
}

async function build(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed (npx tsc -b)');
}

interface UpOptions {
  masters: string;
  workers: string;
  data?: string;
  basePort: string;
  host: string;
  build: boolean;
  wait: boolean;
  demo: boolean;
}

function mastersOf(state: ClusterState): ProcessRecord[] {
  return state.processes.filter((p) => p.kind === 'master');
}

function clientFor(state: ClusterState): BrambleClient {
  return new BrambleClient({ endpoints: mastersOf(state).map((m) => m.address), requestTimeoutMs: 10_000 });
}

function startAgent(state: ClusterState, spec: AgentSpec): ProcessRecord {
  const dataDir = join(state.clusterDir, 'data', spec.name);
  const log = join(state.clusterDir, 'logs', `${spec.name}.log`);
  const args = agentArgs(agentBin, state, spec, dataDir);
  const pid = spawnDetached(repo, args, log);
  const rec: ProcessRecord = { name: spec.name, kind: 'agent', pid, args, log, dataDir, address: spec.address, http: '', startedAt: new Date().toISOString() };
  state.processes.push(rec);
  writeState(state);
  return rec;
}

function assertAlive(recs: ProcessRecord[]): () => void {
  return () => {
    for (const rec of recs) {
      if (!isOurProcess(rec)) throw new Error(`${rec.name} exited during start-up; see ${rec.log}:\n${tail(rec.log, 15)}`);
    }
  };
}

async function up(opts: UpOptions): Promise<void> {
  const count = Number(opts.masters);
  if (count !== 3 && count !== 5 && count !== 1) throw new Error(`--masters: 1, 3 or 5 (got ${opts.masters})`);
  const workers = Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`--workers: a number >= 0 (got ${opts.workers})`);
  const dir = clusterDirFrom(opts);
  const existing = readState(dir);
  if (existing?.processes.some(isOurProcess)) {
    const alive = existing.processes.filter(isOurProcess).map((p) => `${p.name} (pid ${p.pid})`);
    throw new Error(`a cluster is already running from ${dir}: ${alive.join(', ')}; run 'scripts/cluster down' first`);
  }
  if (opts.build) await build();
  const basePort = Number(opts.basePort);
  const members = Array.from({ length: count }, (_, i) => ({
    name: `m${i + 1}`,
    listen: `${opts.host}:${basePort + i}`,
    http: `${opts.host}:${basePort + 1000 + i}`,
  }));
  for (const m of members) {
    await assertPortFree(m.listen, `${m.name} gRPC`);
    await assertPortFree(m.http, `${m.name} HTTP`);
  }
  const peers = members.map((m) => `${m.name}=${m.listen}`).join(',');
  const state: ClusterState = { version: 1, clusterDir: dir, repo, joinToken: existing?.joinToken ?? newJoinToken(), processes: [] };
  for (const m of members) {
    const dataDir = join(dir, 'data', m.name);
    const log = join(dir, 'logs', `${m.name}.log`);
    const args = [...masterArgs(m.name, m.listen, m.http, peers, dataDir), '--join-token', state.joinToken!];
    const pid = spawnDetached(repo, args, log);
    state.processes.push({ name: m.name, kind: 'master', pid, args, log, dataDir, address: m.listen, http: m.http, startedAt: new Date().toISOString() });
    writeState(state);
  }
  const configPath = defaultConfigPath();
  writeContext(configPath, { name: 'local', servers: members.map((m) => m.listen) });
  if (opts.wait || workers > 0) {
    let leader: string | undefined;
    await waitUntil(
      'a leader to be elected',
      async () => {
        assertAlive(state.processes)();
        leader = await currentLeader(state);
        return leader !== undefined;
      },
      20_000,
      100,
    );
    console.log(`cluster up: ${count} masters, leader ${leader}`);
  }
  const agents: ProcessRecord[] = [];
  for (let i = 0; i < workers; i++) {
    const spec = nextAgentSpec(state);
    await assertPortFree(`${spec.address}:${KUBELET_PORT}`, `${spec.name} kubelet`);
    agents.push(startAgent(state, spec));
  }
  if (workers > 0) {
    const client = clientFor(state);
    try {
      await waitForNodesReady(client, agents.map((a) => a.name), assertAlive(state.processes));
      console.log(`${workers} nodes Ready: ${agents.map((a) => `${a.name} (${a.address})`).join(', ')}`);
      if (opts.demo) await applyDemo(client);
    } finally {
      client.close();
    }
  }
  for (const rec of state.processes) {
    const where = rec.kind === 'agent' ? `node ${rec.address}  kubelet :${KUBELET_PORT}` : `grpc ${rec.address}  http ${rec.http}`;
    console.log(`  ${rec.name.padEnd(6)} pid ${rec.pid}  ${where}  log ${rec.log}`);
  }
  console.log(`context "local" written to ${configPath}; try: pnpm bramble get pods -o wide`);
}

const DEMO_DIR = join(repo, 'deploy/examples/hello');

/** Apply deploy/examples/hello and wait (up to 60 s) for its pods to run. */
async function applyDemo(client: BrambleClient): Promise<void> {
  for (const line of await applyAll(client, readManifestDir(DEMO_DIR))) console.log(line);
  let running: Array<{ name: string; node: string; url: string }> = [];
  await waitUntil(
    'the hello pods to be Running',
    async () => {
      const pods = (await api(client).list('Pod', { namespace: 'default', labelSelector: 'app=hello' })).items;
      running = pods
        .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)
        .map((p) => {
          const port = p.status?.containerStatuses?.[0]?.ports?.[0]?.hostPort;
          return { name: p.metadata.name!, node: p.spec.nodeName ?? '', url: `http://${p.status?.podIP}:${port}/` };
        });
      return running.length >= 3;
    },
    60_000,
    200,
  );
  console.log('demo workload running:');
  for (const p of running) console.log(`  ${p.name.padEnd(28)} ${p.node.padEnd(8)} ${p.url}`);
  const service = await api(client).get('Service', 'default', 'hello').catch(() => undefined);
  const nodePort = service?.spec.ports?.[0]?.nodePort;
  if (nodePort) console.log(`the hello Service, balanced over them by every node's proxy: http://${running[0]?.url.split('/')[2]?.split(':')[0] ?? '127.0.0.11'}:${nodePort}/`);
}


function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

async function down(opts: { data?: string; purge: boolean }): Promise<void> {
  const dir = clusterDirFrom(opts);
  const state = readState(dir);
  if (!state) {
    console.log(`no cluster recorded in ${dir}`);
    return;
  }
  // Agents first, then masters; masters one at a time so leadership moves cleanly.
  const order = [...state.processes.filter((p) => p.kind === 'agent'), ...state.processes.filter((p) => p.kind === 'master')];
  for (const rec of order) {
    const result = await stopProcess(rec, 'SIGTERM', 5000);
    // An agent that stops leaves its pods running (like a kubelet); the supervisor started them, so it stops them.
    const pods = rec.kind === 'agent' ? killPodProcesses(rec.dataDir) : 0;
    console.log(`${rec.name}: ${result}${pods ? `, ${pods} pod process(es) killed` : ''}`);
  }
  rmSync(statePath(dir), { force: true });
  if (opts.purge) {
    rmSync(join(dir, 'data'), { recursive: true, force: true });
    rmSync(join(dir, 'logs'), { recursive: true, force: true });
    console.log(`removed data and logs under ${dir}`);
  }
}

async function printStatus(opts: { data?: string; output: string }): Promise<void> {
  const state = requireState(clusterDirFrom(opts));
  const rows: Array<Record<string, string | number>> = [];
  for (const rec of state.processes) {
    const running = isOurProcess(rec);
    const row: Record<string, string | number> = { NAME: rec.name, KIND: rec.kind, PID: running ? rec.pid : '-', STATE: running ? 'running' : 'stopped', ADDRESS: rec.address };
    if (rec.kind === 'master' && running) {
      try {
        const s = await status(rec.address);
        Object.assign(row, { ROLE: s.role, LEADER: s.leader || '-', TERM: s.term, COMMIT: s.commit_index, APPLIED: s.applied_index, REVISION: s.revision });
      } catch (err) {
        Object.assign(row, { ROLE: `unreachable: ${(err as grpc.ServiceError).details || (err as Error).message}` });
      }
    }
    rows.push(row);
  }
  if (opts.output === 'json') {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const headers = ['NAME', 'KIND', 'PID', 'STATE', 'ADDRESS', 'ROLE', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'REVISION'];
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd();
  console.log(line(headers));
  for (const r of rows) console.log(line(headers.map((h) => String(r[h] ?? ''))));
  if (state.processes.some((p) => p.kind === 'agent')) await printNodes(state);
}

/** The nodes as the masters see them: readiness, schedulability and pod count. */
async function printNodes(state: ClusterState): Promise<void> {
  const client = clientFor(state);
  try {
    const [nodes, pods] = await Promise.all([api(client).list('Node'), api(client).list('Pod')]);
    const rows = nodes.items.map((n) => {
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady';
      const address = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
      const count = pods.items.filter((p) => p.spec.nodeName === n.metadata.name && !p.metadata.deletionTimestamp).length;
      return [n.metadata.name ?? '', ready + (n.spec?.unschedulable ? ',SchedulingDisabled' : ''), address, String(count)];
    });
    const headers = ['NODE', 'STATUS', 'ADDRESS', 'PODS'];
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd();
    console.log();
    console.log(line(headers));
    for (const r of rows) console.log(line(r));
  } catch (err) {
    console.log(`\nnodes: ${(err as Error).message}`);
  } finally {
    client.close();
  }
}

async function startOne(opts: { data?: string }, name: string): Promise<void> {
  const state = requireState(clusterDirFrom(opts));
  const rec = findProcess(state, name);
  if (isOurProcess(rec)) throw new Error(`${name} is already running (pid ${rec.pid})`);
  // Masters record host:port; agents record their node address and serve the Kubelet on KUBELET_PORT.
  if (rec.kind === 'agent') await assertPortFree(`${rec.address}:${KUBELET_PORT}`, `${name} kubelet`);
  else await assertPortFree(rec.address, `${name} gRPC`);
  rec.pid = spawnDetached(state.repo, rec.args, rec.log);
  rec.startedAt = new Date().toISOString();
  writeState(state);
  console.log(`${name}: started (pid ${rec.pid})`);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('scripts/cluster').description('run a local Bramble cluster: every process with its own data dir and log').showHelpAfterError();
  const dataOption = () => new Option('--data <dir>', 'cluster directory (default: <repo>/.bramble or $BRAMBLE_CLUSTER_DIR)');
  program
    .command('up')
    .description('build if needed, start the masters and agents, apply the demo workload, write the "local" CLI context')
    .option('--masters <n>', '1, 3 or 5', '3')
    .option('--workers <n>', 'worker agents (node1.. on 127.0.0.11..)', '3')
    .option('--no-demo', 'do not apply deploy/examples/hello')
    .addOption(dataOption())
    .option('--base-port <port>', 'first gRPC port; HTTP ports are +1000', '7001')
    .option('--host <ip>', 'loopback address the masters bind', '127.0.0.1')
    .option('--no-build', 'do not run tsc -b first')
    .option('--no-wait', 'do not wait for a leader')
    .action(up);
  program.command('down').description('stop exactly the processes this supervisor started').addOption(dataOption()).option('--purge', 'also delete data and logs', false).action(down);
  program.command('status').description('processes, roles, leader, term').addOption(dataOption()).option('-o, --output <fmt>', 'table|json', 'table').action(printStatus);
  program
    .command('logs <name>')
    .description("print a process's log")
    .addOption(dataOption())
    .option('-f, --follow', 'keep printing as it grows', false)
    .action(async (name: string, opts: { data?: string; follow: boolean }) => {
      const rec = findProcess(requireState(clusterDirFrom(opts)), name);
      process.stdout.write(existsSync(rec.log) ? readFileSync(rec.log) : '');
      if (!opts.follow) return;
      let offset = existsSync(rec.log) ? statSync(rec.log).size : 0;
      const { openSync, readSync, closeSync } = await import('node:fs');
      watch(rec.log, () => {
        const size = statSync(rec.log).size;
        if (size <= offset) return;
        const fd = openSync(rec.log, 'r');
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        closeSync(fd);
        offset = size;
        process.stdout.write(buf);
      });
      await new Promise(() => undefined);
    });
  program
    .command('kill <name>')
    .description('send a signal to one process (default SIGKILL, as a crash)')
    .addOption(dataOption())
    .option('--signal <sig>', 'KILL, TERM, STOP, CONT, ...', 'KILL')
    .action(async (name: string, opts: { data?: string; signal: string }) => {
      const rec = findProcess(requireState(clusterDirFrom(opts)), name);
      const sig = (opts.signal.startsWith('SIG') ? opts.signal : `SIG${opts.signal}`).toUpperCase() as NodeJS.Signals;
      if (!isOurProcess(rec)) throw new Error(`${name} is not running`);
      if (sig === 'SIGKILL' || sig === 'SIGTERM') console.log(`${name}: ${await stopProcess(rec, sig, 10_000)} (${sig})`);
      else {
        process.kill(rec.pid, sig);
        console.log(`${name}: sent ${sig}`);
      }
    });
  program.command('start <name>').description('start a stopped process again with its data').addOption(dataOption()).action((name: string, opts: { data?: string }) => startOne(opts, name));
  program
    .command('restart <name>')
    .description('stop (SIGTERM) and start one process')
    .addOption(dataOption())
    .action(async (name: string, opts: { data?: string }) => {
      const rec = findProcess(requireState(clusterDirFrom(opts)), name);
      await stopProcess(rec, 'SIGTERM', 5000);
      await startOne(opts, name);
    });
  program
    .command('add-node')
    .description('start one more agent (node<N> on 127.0.0.<10+N>) on the running cluster')
    .addOption(dataOption())
    .option('--name <name>', 'node name (default: the next free node<N>)')
    .option('--address <ip>', 'node address (default: 127.0.0.<10+N>)')
    .option('--cpu <cores>', 'CPU capacity (default 4, a Raspberry Pi 4)')
    .option('--memory <bytes>', 'memory capacity (default 4Gi)')
    .option('--labels <k=v,...>', 'node labels')
    .action(async (opts: { data?: string; name?: string; address?: string; cpu?: string; memory?: string; labels?: string }) => {
      const state = requireState(clusterDirFrom(opts));
      const next = nextAgentSpec(state);
      const spec: AgentSpec = { ...next, name: opts.name ?? next.name, address: opts.address ?? next.address, cpu: opts.cpu, memory: opts.memory, labels: opts.labels };
      if (state.processes.some((p) => p.name === spec.name)) throw new Error(`${spec.name} exists already`);
      await assertPortFree(`${spec.address}:${KUBELET_PORT}`, `${spec.name} kubelet`);
      const rec = startAgent(state, spec);
      const client = clientFor(state);
      try {
        await waitForNodesReady(client, [spec.name], assertAlive([rec]));
      } finally {
        client.close();
      }
      console.log(`node/${spec.name} joined (${spec.address}, pid ${rec.pid}, log ${rec.log})`);
    });
  program
    .command('remove-node <name>')
    .description('drain a node (its pods move elsewhere), stop its agent and delete the Node')
    .addOption(dataOption())
    .action(async (name: string, opts: { data?: string }) => {
      const state = requireState(clusterDirFrom(opts));
      const rec = findProcess(state, name);
      if (rec.kind !== 'agent') throw new Error(`${name} is a ${rec.kind}, not a node`);
      const client = clientFor(state);
      try {
        await removeNode(client, rec, () => stopProcess(rec, 'SIGTERM', 5000), (line) => console.log(line));
      } finally {
        client.close();
      }
      state.processes = state.processes.filter((p) => p !== rec);
      writeState(state);
    });
  program
    .command('leader')
    .description('print the current leader')
    .addOption(dataOption())
    .action(async (opts: { data?: string }) => {
      const leader = await currentLeader(requireState(clusterDirFrom(opts)));
      if (!leader) throw new Error('no leader right now');
      console.log(leader);
    });
  await program.parseAsync(argv);
}

main(process.argv).catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
