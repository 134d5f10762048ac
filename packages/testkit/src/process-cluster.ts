// Real master processes for tests, benchmarks and chaos runs: free loopback ports,
// a temp directory per cluster, and cleanup that kills exactly what was started.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from './grpc-client.js';
import { freePort, waitFor } from './ports.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const BRAMBLE_BIN = join(REPO_ROOT, 'packages/cli/bin/bramble.js');
/** `bramble agent` with the agent's own V8 settings. */
export const BRAMBLE_AGENT_BIN = join(REPO_ROOT, 'packages/cli/bin/bramble-agent.js');

export interface MemberProcess {
  name: string;
  listen: string;
  http: string;
  dataDir: string;
  log: string;
  /** Extra flags this member was started with. */
  args: string[];
  proc?: ChildProcess;
}

export interface ProcessClusterOptions {
  masters?: number;
  tickMs?: number;
  electionTicks?: number;
  snapshotEntries?: number;
  snapshotCatchUpEntries?: number;
  logLevel?: string;
  /** Keep the temp dir after destroy() (to read logs). */
  keepDir?: boolean;
  /** Flags for node itself (V8 heap sizing...), before the script. */
  nodeArgs?: string[];
  /** Address the masters bind; any 127.0.0.0/8 address. */
  host?: string;
  /**
   * Where member `from` dials member `to` (default: `to`'s own address). A chaos tool returns a
   * proxy per directed link here; it is passed to the master as --peer-dial.
   */
  peerAddressFor?: (from: string, to: string, realAddress: string) => string;
  /** More `bramble master` flags for every member (e.g. --join-token, --node-grace). */
  extraArgs?: string[];
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last line of defence: never leave a master behind when the test process exits.
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export class ProcessCluster {
  readonly members = new Map<string, MemberProcess>();
  private readonly clients = new Map<string, RawClient>();

  private constructor(
    readonly dir: string,
    readonly opts: ProcessClusterOptions,
  ) {}

  static async start(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    installExitHook();
    const dir = mkdtempSync(join(tmpdir(), 'bramble-cluster-'));
    const cluster = new ProcessCluster(dir, opts);
    const host = opts.host ?? '127.0.0.1';
    const n = opts.masters ?? 3;
    for (let i = 1; i <= n; i++) {
      const name = `m${i}`;
      cluster.members.set(name, {
        name,
        listen: `${host}:${await freePort(host)}`,
        http: `${host}:${await freePort(host)}`,
        dataDir: join(dir, name),
        log: join(dir, `${name}.log`),
        args: [],
      });
    }
    try {
      for (const name of cluster.members.keys()) cluster.spawnMember(name, cluster.bootstrapArgs(name));
      await cluster.waitForLeader();
      // A leader needs only a majority: also wait for the slowest process to serve, so a
      // test's first request to any member does not meet a port nobody listens on yet.
      await cluster.waitForMembers();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  private bootstrapArgs(name: string): string[] {
    const peers = [...this.members.values()].map((m) => `${m.name}=${m.listen}`).join(',');
    const dial = this.opts.peerAddressFor
      ? [...this.members.values()]
          .filter((m) => m.name !== name)
          .map((m) => `${m.name}=${this.opts.peerAddressFor!(name, m.name, m.listen)}`)
          .join(',')
      : '';
    return ['--peers', peers, ...(dial ? ['--peer-dial', dial] : [])];
  }

  private commonArgs(m: MemberProcess): string[] {
    const o = this.opts;
    return [
      ...(o.nodeArgs ?? []),
      BRAMBLE_BIN,
      'master',
      '--name',
      m.name,
      '--listen',
      m.listen,
      '--http',
      m.http,
      '--data-dir',
      m.dataDir,
      '--log-level',
      o.logLevel ?? 'info',
      ...(o.tickMs ? ['--tick-ms', String(o.tickMs)] : []),
      ...(o.electionTicks ? ['--election-ticks', String(o.electionTicks)] : []),
      ...(o.snapshotEntries ? ['--snapshot-entries', String(o.snapshotEntries)] : []),
      ...(o.snapshotCatchUpEntries ? ['--snapshot-catch-up-entries', String(o.snapshotCatchUpEntries)] : []),
      ...(o.extraArgs ?? []),
    ];
  }

  private spawnMember(name: string, extra: string[]): void {
    const m = this.members.get(name)!;
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) throw new Error(`${name} is already running`);
    m.args = extra;
    const fd = openSync(m.log, 'a');
    try {
      // Without explicit node flags, run the bin itself so its shebang's V8 flags apply.
      const argv = [...this.commonArgs(m), ...extra];
      const proc = this.opts.nodeArgs
        ? spawn(process.execPath, argv, { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] })
        : spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
      m.proc = proc;
      live.add(proc);
      proc.once('exit', () => live.delete(proc));
    } finally {
      closeSync(fd);
    }
  }

  /** Names of members whose process is running. */
  running(): string[] {
    return [...this.members.values()].filter((m) => isRunning(m.proc)).map((m) => m.name);
  }

  client(name: string): RawClient {
    let c = this.clients.get(name);
    if (!c) {
      c = new RawClient(this.members.get(name)!.listen);
      this.clients.set(name, c);
    }
    return c;
  }

  /** Addresses of every member (for clients that rotate). */
  endpoints(): string[] {
    return [...this.members.values()].map((m) => m.listen);
  }

  async leader(): Promise<string | undefined> {
    for (const name of this.running()) {
      try {
        const s = await this.client(name).status(500);
        if (s.leader && this.running().includes(s.leader)) {
          const ls = await this.client(s.leader).status(500);
          if (ls.role === 'leader') return s.leader;
        }
      } catch {
        // next member
      }
    }
    return undefined;
  }

  async waitForLeader(timeoutMs = 15_000, except?: string): Promise<string> {
    return waitFor(
      'a leader',
      async () => {
        for (const m of this.members.values()) {
          if (m.proc && !isRunning(m.proc) && m.proc.exitCode !== null && m.proc.exitCode !== 0 && m.proc.signalCode === null) {
            throw new Error(`${m.name} exited with code ${m.proc.exitCode}:\n${this.logTail(m.name)}`);
          }
        }
        const leader = await this.leader();
        return leader && leader !== except ? leader : undefined;
      },
      timeoutMs,
      25,
    );
  }

  /** Wait until each named member (default: every running one) answers Status and knows a leader. */
  async waitForMembers(names: string[] = this.running(), timeoutMs = 15_000): Promise<void> {
    await Promise.all(
      names.map((name) =>
        waitFor(
          `${name} to serve and know a leader`,
          async () => {
            const m = this.members.get(name)!;
            if (!isRunning(m.proc)) throw new Error(`${name} is not running:\n${this.logTail(name)}`);
            return Boolean((await this.client(name).status(500)).leader);
          },
          timeoutMs,
        ),
      ),
    );
  }

  /** Send a signal; for SIGKILL/SIGTERM wait until the process is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.members.get(name);
    if (!m?.proc || !isRunning(m.proc)) return;
    const proc = m.proc;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    this.clients.get(name)?.close();
    this.clients.delete(name);
  }

  /** Start a stopped member again with its data dir (and the flags it last had). */
  async restart(name: string): Promise<void> {
    const m = this.members.get(name)!;
    if (isRunning(m.proc)) await this.kill(name, 'SIGKILL');
    this.spawnMember(name, m.args);
  }

  /** Start a brand-new member that joins the running cluster through the current members. */
  async addMember(name: string): Promise<MemberProcess> {
    const host = this.opts.host ?? '127.0.0.1';
    const m: MemberProcess = {
      name,
      listen: `${host}:${await freePort(host)}`,
      http: `${host}:${await freePort(host)}`,
      dataDir: join(this.dir, name),
      log: join(this.dir, `${name}.log`),
      args: [],
    };
    const joinThrough = this.running()
      .map((n) => this.members.get(n)!.listen)
      .join(',');
    this.members.set(name, m);
    this.spawnMember(name, ['--join', joinThrough]);
    return m;
  }

  logTail(name: string, lines = 30): string {
    const log = this.members.get(name)?.log;
    if (!log || !existsSync(log)) return '(no log)';
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Kill every process this cluster started and remove its directory. */
  async destroy(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all([...this.members.keys()].map((name) => this.kill(name, 'SIGKILL')));
    if (!this.opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function isRunning(proc: ChildProcess | undefined): boolean {
  return Boolean(proc && proc.exitCode === null && proc.signalCode === null);
}
