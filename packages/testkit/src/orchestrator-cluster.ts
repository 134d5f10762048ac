// Masters and worker agents as real processes, for the orchestrator's process tests and
// the schedule benchmark. Agents emulate nodes on their own loopback addresses
// (127.A.B.11, .12, ... with A.B random per cluster, so test files running side by side
// never share a node address and their Service ports cannot collide); cleanup kills the agents AND the pod processes they left
// behind (found by the marker agents put in every container's environment).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { BrambleClient, type ResourcesApi } from '@bramble/client';
import { BRAMBLE_AGENT_BIN, ProcessCluster, REPO_ROOT, type ProcessClusterOptions } from './process-cluster.js';
import { killPodProcesses, podProcesses, type PodProcessInfo } from '@bramble/agent';
import { waitFor } from './ports.js';

export interface AgentProcess {
  name: string;
  address: string;
  dataDir: string;
  log: string;
  args: string[];
  proc?: ChildProcess;
}

export interface AgentOptions {
  /** Node address; default <cluster's nodeSubnet>.<10 + n> for node<n>. */
  address?: string;
  cpu?: string;
  memory?: string;
  maxPods?: number;
  labels?: Record<string, string>;
  extraArgs?: string[];
}

export interface OrchestratorClusterOptions extends ProcessClusterOptions {
  agents?: number;
  /** `--node-grace` of the masters (default 4s). */
  nodeGrace?: string;
  /** `--pod-eviction-timeout` of the masters (default 5s). */
  podEvictionTimeout?: string;
  /** Flags for every agent (e.g. ['--heartbeat-interval', '500ms']). */
  agentArgs?: string[];
  /** Node flags for the agents (e.g. --cpu-prof); default: run the bin so its shebang's flags apply. */
  agentNodeArgs?: string[];
  /**
   * Scheduling priority (nice, 0..19) of the agents and so of their pods. Many agents on one
   * machine emulate many boards: a positive value keeps them from starving the masters of CPU,
   * as masters on their own boards would not be. Default 0.
   */
  agentNice?: number;
  /** Per-agent options by index (0-based). */
  agentOptions?: (index: number) => AgentOptions;
}

const liveAgents = new Set<{ proc: ChildProcess; dataDir: string }>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  // Last line of defence: never leave an agent or its pods behind when the test process exits.
  process.on('exit', () => {
    for (const a of liveAgents) {
      try {
        a.proc.kill('SIGKILL');
      } catch {
        // gone
      }
      killPodProcesses(a.dataDir);
    }
  });
}

/** A kubeadm-style join token: 6 + 16 lowercase alphanumerics. */
export function newJoinToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n: number): string => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
  return `${pick(6)}.${pick(16)}`;
}

function isRunning(proc: ChildProcess | undefined): boolean {
  return Boolean(proc && proc.exitCode === null && proc.signalCode === null);
}

export class OrchestratorCluster {
  readonly agents = new Map<string, AgentProcess>();
  /** The first three octets of this cluster's node addresses (`127.A.B`, A.B random, never 127.0.0). */
  readonly nodeSubnet = `127.${1 + randomInt(254)}.${randomInt(256)}`;
  private apiClient?: BrambleClient;
  private readonly agentDirs = new Set<string>();

  private constructor(
    readonly masters: ProcessCluster,
    readonly joinToken: string,
    readonly opts: OrchestratorClusterOptions,
  ) {}

  static async start(opts: OrchestratorClusterOptions = {}): Promise<OrchestratorCluster> {
    installExitHook();
    const joinToken = newJoinToken();
    const masters = await ProcessCluster.start({
      ...opts,
      extraArgs: [
        '--join-token',
        joinToken,
        ...(opts.nodeGrace ? ['--node-grace', opts.nodeGrace] : []),
        ...(opts.podEvictionTimeout ? ['--pod-eviction-timeout', opts.podEvictionTimeout] : []),
        ...(opts.extraArgs ?? []),
      ],
    });
    const cluster = new OrchestratorCluster(masters, joinToken, opts);
    try {
      const n = opts.agents ?? 3;
      for (let i = 1; i <= n; i++) cluster.addAgent(`node${i}`, opts.agentOptions?.(i - 1));
      await cluster.waitForNodesReady([...cluster.agents.keys()]);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  get dir(): string {
    return this.masters.dir;
  }

  /** One client over every master (fails over like the CLI's). */
  client(): BrambleClient {
    this.apiClient ??= new BrambleClient({ endpoints: this.masters.endpoints(), requestTimeoutMs: 10_000 });
    return this.apiClient;
  }

  /** The Resources API over every master. */
  resources(): ResourcesApi {
    return this.client().resources;
  }

  /** Start an agent process for a new node (it joins with the cluster's token). */
  addAgent(name: string, options: AgentOptions = {}): AgentProcess {
    if (this.agents.has(name)) throw new Error(`agent ${name} exists already`);
    const index = Number(/(\d+)$/.exec(name)?.[1] ?? this.agents.size + 1);
    const address = options.address ?? `${this.nodeSubnet}.${10 + index}`;
    const dataDir = join(this.dir, `agent-${name}`);
    const args = [
      BRAMBLE_AGENT_BIN,
      '--name',
      name,
      '--address',
      address,
      '--masters',
      this.masters.endpoints().join(','),
      '--join-token',
      this.joinToken,
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--log-level',
      this.opts.logLevel ?? 'info',
      ...(options.cpu ? ['--cpu', options.cpu] : []),
      ...(options.memory ? ['--memory', options.memory] : []),
      ...(options.maxPods ? ['--max-pods', String(options.maxPods)] : []),
      ...(options.labels ? ['--labels', Object.entries(options.labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
      ...(this.opts.agentArgs ?? []),
      ...(options.extraArgs ?? []),
    ];
    const agent: AgentProcess = { name, address, dataDir, log: join(this.dir, `agent-${name}.log`), args };
    this.agents.set(name, agent);
    this.agentDirs.add(dataDir);
    this.spawnAgent(agent);
    return agent;
  }

  private spawnAgent(agent: AgentProcess): void {
    if (isRunning(agent.proc)) throw new Error(`agent ${agent.name} is already running`);
    const fd = openSync(agent.log, 'a');
    try {
      // Run the bin itself so its shebang's memory flags apply (as in production).
      const nodeArgs = this.opts.agentNodeArgs;
      const proc = nodeArgs
        ? spawn(process.execPath, [...nodeArgs, ...agent.args], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] })
        : spawn(agent.args[0], agent.args.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
      agent.proc = proc;
      if (this.opts.agentNice && proc.pid !== undefined) {
        try {
          setPriority(proc.pid, this.opts.agentNice);
        } catch {
          // already gone: its exit is reported as usual
        }
      }
      const entry = { proc, dataDir: agent.dataDir };
      liveAgents.add(entry);
      proc.once('exit', () => liveAgents.delete(entry));
    } finally {
      closeSync(fd);
    }
  }

  /** Signal an agent; SIGKILL/SIGTERM wait until it is gone. Its pods keep running (like a kubelet's). */
  async killAgent(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const agent = this.mustAgent(name);
    const proc = agent.proc;
    if (!proc || !isRunning(proc)) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Start a stopped agent again with its data dir. */
  startAgent(name: string): void {
    this.spawnAgent(this.mustAgent(name));
  }

  agentRunning(name: string): boolean {
    return isRunning(this.mustAgent(name).proc);
  }

  /** Live pod processes started by this agent (any incarnation of it). */
  podProcesses(name: string): PodProcessInfo[] {
    return podProcesses(this.mustAgent(name).dataDir);
  }

  async waitForNodesReady(names: string[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `nodes ${names.join(', ')} to be Ready`,
      async () => {
        for (const name of names) {
          const agent = this.agents.get(name);
          if (agent?.proc && !isRunning(agent.proc)) throw new Error(`agent ${name} exited:\n${this.agentLogTail(name)}`);
        }
        const { items } = await this.resources().list('Node');
        const ready = new Set(items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name));
        return names.every((n) => ready.has(n));
      },
      timeoutMs,
      100,
    );
  }

  agentLogTail(name: string, lines = 30): string {
    const log = this.agents.get(name)?.log;
    if (!log || !existsSync(log)) return '(no log)';
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  private mustAgent(name: string): AgentProcess {
    const agent = this.agents.get(name);
    if (!agent) throw new Error(`no agent named ${name} (known: ${[...this.agents.keys()].join(', ')})`);
    return agent;
  }

  /** Kill every agent, every pod process they started, and the masters; remove the directory. */
  async destroy(): Promise<void> {
    this.apiClient?.close();
    await Promise.all([...this.agents.keys()].map((name) => this.killAgent(name, 'SIGKILL').catch(() => undefined)));
    for (const dir of this.agentDirs) killPodProcesses(dir);
    await waitFor('pod processes to be gone', () => [...this.agentDirs].every((d) => podProcesses(d).length === 0), 10_000, 50).catch(() => undefined);
    await this.masters.destroy();
  }
}
