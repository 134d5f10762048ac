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
import { assertPortFree, spawnDetached, stopProcess, waitUntil } from './processes.js';
import { isOurProcess, readState, statePath, writeState, type ClusterState, type ProcessRecord } from './state.js';

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const cliBin = join(repo, 'packages/cli/bin/bramble.js');

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

async function up(opts: { masters: string; workers: string; data?: string; basePort: string; host: string; build: boolean; wait: boolean }): Promise<void> {
  const count = Number(opts.masters);
  if (count !== 3 && count !== 5 && count !== 1) throw new Error(`--masters: 1, 3 or 5 (got ${opts.masters})`);
  const workers = Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`--workers: a number >= 0 (got ${opts.workers})`);
  if (workers > 0) throw new Error('--workers: worker agents are not available yet (they arrive with the orchestrator); use --workers 0');
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
  const state: ClusterState = { version: 1, clusterDir: dir, repo, processes: [] };
  for (const m of members) {
    const dataDir = join(dir, 'data', m.name);
    const log = join(dir, 'logs', `${m.name}.log`);
    const args = masterArgs(m.name, m.listen, m.http, peers, dataDir);
    const pid = spawnDetached(repo, args, log);
    state.processes.push({ name: m.name, kind: 'master', pid, args, log, dataDir, address: m.listen, http: m.http, startedAt: new Date().toISOString() });
    writeState(state);
  }
  const configPath = defaultConfigPath();
  writeContext(configPath, { name: 'local', servers: members.map((m) => m.listen) });
  if (opts.wait) {
    let leader: string | undefined;
    await waitUntil(
      'a leader to be elected',
      async () => {
        for (const rec of state.processes) {
          if (!isOurProcess(rec)) throw new Error(`${rec.name} exited during start-up; see ${rec.log}:\n${tail(rec.log, 15)}`);
        }
        leader = await currentLeader(state);
        return leader !== undefined;
      },
      20_000,
      100,
    );
    console.log(`cluster up: ${count} masters, leader ${leader}`);
  }
  for (const rec of state.processes) console.log(`  ${rec.name}  pid ${rec.pid}  grpc ${rec.address}  http ${rec.http}  log ${rec.log}`);
  console.log(`context "local" written to ${configPath}; try: pnpm bramble cluster status`);
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
    console.log(`${rec.name}: ${result}`);
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
}

async function startOne(opts: { data?: string }, name: string): Promise<void> {
  const state = requireState(clusterDirFrom(opts));
  const rec = findProcess(state, name);
  if (isOurProcess(rec)) throw new Error(`${name} is already running (pid ${rec.pid})`);
  await assertPortFree(rec.address, `${name} gRPC`);
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
    .description('build if needed, start the masters, wait for a leader, write the "local" CLI context')
    .option('--masters <n>', '1, 3 or 5', '3')
    .option('--workers <n>', 'worker agents (arrive with the orchestrator)', '0')
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
