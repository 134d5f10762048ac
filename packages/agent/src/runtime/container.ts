/**
 * One container of one pod: its process (a child in its own process group, or a process
 * adopted from an earlier agent), its restarts with crash back-off, its probes, and the
 * ContainerStatus that results.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Container, ContainerPortStatus, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, RestartPolicy } from '@bramble/api';
import { CrashBackoff } from './backoff.js';
import { buildLaunch, type ContainerLaunch } from './env.js';
import { openCurrentLog, rollToPrevious } from './log-files.js';
import { groupAlive, isSameProcess, readProcStat, signalGroup } from './procfs.js';
import { killLeftovers } from './leftovers.js';
import { Prober } from './prober.js';
import type { ProbeResult } from './probe-actions.js';
import { shouldRestart } from './pod-status.js';
import type { ResolvedRuntimeOptions } from './options.js';
import type { ContainerRecordState } from './state-store.js';
import { isDirectory } from './fs-checks.js';

/** What a container needs from its pod. */
export interface ContainerOwner {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly opts: ResolvedRuntimeOptions;
  /** The pod's restart policy (from the spec, or as recorded before an agent restart). */
  restartPolicy(): RestartPolicy | undefined;
  /** The container spec and its resolved env; undefined until the pod was synced. */
  launchInput(container: string): { container: Container; resolvedEnv: Array<{ name: string; value: string }> } | undefined;
  /** Last step before a start (volume mount symlinks); throws a config error the container waits on. */
  beforeStart?(container: Container, cwd: string): void;
  gracePeriodMs(): number;
  containerLogDir(container: string): string;
  event(type: 'Normal' | 'Warning', reason: string, message: string, container: string): void;
  changed(): void;
}

type Phase = 'new' | 'waiting' | 'running' | 'terminated';

interface Instance {
  pid: number;
  pgid: number;
  procStartTime: number;
  startedAt: string;
  startedAtMs: number;
  /** Absent for a process adopted from an earlier agent (not our child: polled instead). */
  child?: ChildProcess;
  launch?: ContainerLaunch;
  cwd?: string;
  pollTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
}

const STOP_WARN_MS = 10_000;

export class ContainerRunner {
  restartCount = 0;
  private phase: Phase = 'new';
  private waiting: ContainerStateWaiting | undefined;
  private inst: Instance | undefined;
  private terminated: ContainerStateTerminated | undefined;
  private lastTerminated: ContainerStateTerminated | undefined;
  private lastPid: number | undefined;
  private everStarted = false;
  private configError = false;
  private readonly backoff: CrashBackoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private probers: Prober[] = [];
  private probesStarted = false;
  private readyNow = false;
  private stopping = false;
  private closed = false;

  constructor(
    private readonly owner: ContainerOwner,
    readonly name: string,
    readonly ports: ContainerPortStatus[],
  ) {
    const o = owner.opts;
    this.backoff = new CrashBackoff(o.crashBackoffBaseMs, o.crashBackoffMaxMs, o.crashBackoffResetMs);
  }

  /** Rebuilds a container from the state file: adopts its process if that still lives. */
  static fromState(owner: ContainerOwner, rec: ContainerRecordState): ContainerRunner {
    const r = new ContainerRunner(owner, rec.name, rec.ports ?? []);
    r.restartCount = rec.restartCount ?? 0;
    r.lastTerminated = rec.lastTerminated;
    r.everStarted = rec.pid !== undefined || rec.terminated !== undefined || rec.lastTerminated !== undefined || r.restartCount > 0;
    const nowMs = owner.opts.now();
    if (rec.pid !== undefined && rec.procStartTime !== undefined && isSameProcess(rec.pid, rec.procStartTime)) {
      const startedAt = rec.startedAt ?? new Date(nowMs).toISOString();
      const parsed = Date.parse(startedAt);
      r.adopt({ pid: rec.pid, pgid: rec.pgid ?? rec.pid, procStartTime: rec.procStartTime, startedAt, startedAtMs: Number.isNaN(parsed) ? nowMs : parsed });
    } else if (rec.pid !== undefined) {
      // Gone while no agent watched it. Its group may still hold processes of this pod.
      killLeftovers(rec.pgid ?? rec.pid, owner.uid, owner.opts.logger);
      r.lastPid = rec.pid;
      r.terminated = {
        exitCode: 137,
        reason: 'Unknown',
        message: 'the process exited while the agent was not running; its exit status is unknown',
        ...(rec.startedAt ? { startedAt: rec.startedAt } : {}),
        finishedAt: new Date(nowMs).toISOString(),
      };
      r.phase = 'terminated';
    } else if (rec.terminated) {
      r.terminated = rec.terminated;
      r.phase = 'terminated';
    }
    return r;
  }

  get adopted(): boolean {
    return this.inst !== undefined && this.inst.child === undefined;
  }

  get pgid(): number | undefined {
    return this.inst?.pgid;
  }

  /** Brings the container towards its spec: first start, restart after recovery, probes of adopted processes. */
  ensure(): void {
    if (this.stopping || this.closed) return;
    switch (this.phase) {
      case 'new':
        this.start();
        break;
      case 'waiting':
        if (this.configError) this.start();
        break;
      case 'running':
        if (!this.probesStarted) this.startProbes();
        break;
      case 'terminated':
        if (!this.restartTimer) this.afterTermination(0);
        break;
    }
  }

  /** Whether a stopped container will be started again. */
  willRestart(): boolean {
    if (this.stopping) return false;
    if (this.phase === 'waiting' && this.lastTerminated) return true;
    return this.phase === 'terminated' && this.terminated !== undefined && shouldRestart(this.owner.restartPolicy(), this.terminated.exitCode);
  }

  private start(): void {
    if (this.stopping || this.closed) return;
    const input = this.owner.launchInput(this.name);
    if (!input) return;
    const o = this.owner.opts;
    let launch: ContainerLaunch;
    try {
      launch = buildLaunch({
        container: input.container,
        resolvedEnv: input.resolvedEnv,
        podIp: o.nodeAddress,
        podUid: this.owner.uid,
        agentDataDir: o.agentDataDir,
        ports: this.ports,
        hostPath: o.hostEnv.PATH,
      });
      this.owner.beforeStart?.(input.container, input.container.workingDir ?? process.cwd());
    } catch (err) {
      this.configError = true;
      this.phase = 'waiting';
      this.waiting = { reason: 'CreateContainerConfigError', message: (err as Error).message };
      this.owner.event('Warning', 'Failed', `Error: ${(err as Error).message}`, this.name);
      this.owner.changed();
      return;
    }
    this.configError = false;
    const restarting = this.everStarted;
    if (restarting) this.restartCount++;
    this.everStarted = true;
    const cwd = input.container.workingDir ?? process.cwd();
    const logDir = this.owner.containerLogDir(this.name);
    let fd: number;
    try {
      if (restarting) rollToPrevious(logDir, o.logMaxFiles);
      fd = openCurrentLog(logDir);
    } catch (err) {
      this.startFailed(`cannot open the log file in ${logDir}: ${(err as Error).message}`);
      return;
    }
    let child: ChildProcess;
    try {
      if (!isDirectory(cwd)) throw new Error(`workingDir ${cwd} does not exist or is not a directory`);
      this.owner.event('Normal', 'Created', `Created container ${this.name}`, this.name);
      // detached: its own process group (pgid = pid), so the container is killed as a whole
      // and survives the agent. stdout/stderr go straight to the log file.
      child = spawn(launch.argv[0], launch.argv.slice(1), { cwd, env: launch.env, detached: true, stdio: ['ignore', fd, fd] });
    } catch (err) {
      closeSync(fd);
      this.startFailed((err as Error).message);
      return;
    }
    closeSync(fd); // the child has its own copy
    if (child.pid === undefined) {
      this.phase = 'waiting';
      this.waiting = { reason: 'ContainerCreating' };
      child.once('error', (err) => {
        if (!this.closed) this.startFailed(`failed to start container "${this.name}": ${err.message}`);
      });
      return;
    }
    const pid = child.pid;
    const nowMs = o.now();
    const inst: Instance = {
      pid,
      pgid: pid,
      procStartTime: readProcStat(pid)?.startTime ?? 0,
      startedAt: new Date(nowMs).toISOString(),
      startedAtMs: nowMs,
      child,
      launch,
      cwd,
    };
    child.on('error', (err) => o.logger.warn({ pod: this.owner.name, container: this.name, pid, err: err.message }, 'container process error'));
    child.once('exit', (code, signal) => this.onChildExit(inst, code, signal));
    this.inst = inst;
    this.phase = 'running';
    this.waiting = undefined;
    this.terminated = undefined;
    o.logger.info({ pod: `${this.owner.namespace}/${this.owner.name}`, container: this.name, pid, restartCount: this.restartCount }, 'container started');
    this.owner.event('Normal', 'Started', `Started container ${this.name}`, this.name);
    this.startProbes();
    this.owner.changed();
  }

  private adopt(inst: Instance): void {
    this.inst = inst;
    this.phase = 'running';
    this.lastPid = inst.pid;
    inst.pollTimer = setInterval(() => this.pollAdopted(inst), this.owner.opts.adoptedPollIntervalMs);
    inst.pollTimer.unref();
  }

  private pollAdopted(inst: Instance): void {
    if (this.closed || this.inst !== inst) return;
    if (isSameProcess(inst.pid, inst.procStartTime)) return;
    this.finishInstance(inst, {
      exitCode: 137,
      reason: 'Unknown',
      message: 'exit status unknown: the process was started by an earlier agent process and is not a child of this one',
    });
  }

  private startFailed(message: string): void {
    const iso = new Date(this.owner.opts.now()).toISOString();
    this.phase = 'terminated';
    this.waiting = undefined;
    this.terminated = { exitCode: 128, reason: 'StartError', message, startedAt: iso, finishedAt: iso };
    this.owner.opts.logger.warn({ pod: `${this.owner.namespace}/${this.owner.name}`, container: this.name, err: message }, 'container failed to start');
    this.owner.event('Warning', 'Failed', `Error: ${message}`, this.name);
    this.afterTermination(0);
    this.owner.changed();
  }

  private onChildExit(inst: Instance, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closed || this.inst !== inst) return;
    const signum = signal ? osConstants.signals[signal] : undefined;
    const exitCode = code ?? 128 + (signum ?? 0);
    this.finishInstance(inst, {
      exitCode,
      ...(signum !== undefined ? { signal: signum } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      ...(signal ? { message: `killed by ${signal}` } : {}),
    });
  }

  private finishInstance(inst: Instance, how: Omit<ContainerStateTerminated, 'startedAt' | 'finishedAt'>): void {
    if (inst.pollTimer) clearInterval(inst.pollTimer);
    if (inst.killTimer) clearTimeout(inst.killTimer);
    this.stopProbes();
    // As when a container's init process exits: nothing else of the container survives it.
    try {
      signalGroup(inst.pgid, 'SIGKILL');
    } catch (err) {
      this.owner.opts.logger.warn({ pgid: inst.pgid, err: (err as Error).message }, 'cannot kill the rest of a container process group');
    }
    const nowMs = this.owner.opts.now();
    this.inst = undefined;
    this.lastPid = inst.pid;
    this.readyNow = false;
    this.terminated = { ...how, startedAt: inst.startedAt, finishedAt: new Date(nowMs).toISOString() };
    this.phase = 'terminated';
    this.owner.opts.logger.info(
      { pod: `${this.owner.namespace}/${this.owner.name}`, container: this.name, pid: inst.pid, exitCode: how.exitCode, reason: how.reason },
      'container exited',
    );
    this.afterTermination(nowMs - inst.startedAtMs);
    this.owner.changed();
  }

  /** Restarts per policy, after the crash back-off. */
  private afterTermination(ranMs: number): void {
    if (this.stopping || this.closed || !this.terminated) return;
    const policy = this.owner.restartPolicy();
    if (policy === undefined || !shouldRestart(policy, this.terminated.exitCode)) return;
    if (!this.owner.launchInput(this.name)) return; // adopted, not synced yet: the first syncPod decides
    const delayMs = this.backoff.next(ranMs);
    const podRef = `${this.owner.name}_${this.owner.namespace}(${this.owner.uid})`;
    this.lastTerminated = this.terminated;
    this.terminated = undefined;
    this.phase = 'waiting';
    this.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${formatDelay(delayMs)} restarting failed container=${this.name} pod=${podRef}` };
    this.owner.event('Warning', 'BackOff', `Back-off restarting failed container ${this.name} in pod ${podRef}`, this.name);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, delayMs);
  }

  private startProbes(): void {
    const inst = this.inst;
    const input = this.owner.launchInput(this.name);
    if (!inst || !input) return;
    this.probesStarted = true;
    const c = input.container;
    this.readyNow = !c.readinessProbe;
    if (!c.livenessProbe && !c.readinessProbe) return;
    const o = this.owner.opts;
    if (!inst.launch) {
      // Adopted: rebuild the environment the process was started with, for exec probes.
      try {
        inst.launch = buildLaunch({ container: c, resolvedEnv: input.resolvedEnv, podIp: o.nodeAddress, podUid: this.owner.uid, agentDataDir: o.agentDataDir, ports: this.ports, hostPath: o.hostEnv.PATH });
      } catch {
        inst.launch = { env: {}, argv: [] };
      }
      inst.cwd = c.workingDir ?? process.cwd();
    }
    const ctx = { nodeAddress: o.nodeAddress, ports: this.ports, env: inst.launch.env, cwd: inst.cwd ?? process.cwd() };
    if (c.livenessProbe) {
      this.probers.push(
        new Prober(c.livenessProbe, ctx, {
          onFailure: (r: ProbeResult) => this.owner.event('Warning', 'Unhealthy', `Liveness probe failed: ${r.message}`, this.name),
          onChange: (ok: boolean) => {
            if (!ok) this.livenessFailed(inst);
          },
        }),
      );
    }
    if (c.readinessProbe) {
      this.probers.push(
        new Prober(c.readinessProbe, ctx, {
          onFailure: (r: ProbeResult) => this.owner.event('Warning', 'Unhealthy', `Readiness probe failed: ${r.message}`, this.name),
          onChange: (ok: boolean) => {
            if (this.inst !== inst) return;
            this.readyNow = ok;
            this.owner.changed();
          },
        }),
      );
    }
    for (const p of this.probers) p.start();
  }

  private stopProbes(): void {
    for (const p of this.probers) p.stop();
    this.probers = [];
    this.probesStarted = false;
  }

  private livenessFailed(inst: Instance): void {
    if (this.inst !== inst || this.stopping) return;
    this.owner.event('Normal', 'Killing', `Container ${this.name} failed liveness probe, will be restarted`, this.name);
    this.stopProbes();
    this.probesStarted = true; // no new probes for this instance
    this.readyNow = false;
    this.owner.changed();
    this.killInstance(inst, this.owner.gracePeriodMs());
  }

  /** SIGTERM to the group, SIGKILL after the grace period (at once with no grace). */
  private killInstance(inst: Instance, graceMs: number): void {
    const log = this.owner.opts.logger;
    try {
      signalGroup(inst.pgid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    } catch (err) {
      log.warn({ pgid: inst.pgid, err: (err as Error).message }, 'cannot signal container');
    }
    if (graceMs > 0 && !inst.killTimer) {
      inst.killTimer = setTimeout(() => {
        try {
          signalGroup(inst.pgid, 'SIGKILL');
        } catch (err) {
          log.warn({ pgid: inst.pgid, err: (err as Error).message }, 'cannot SIGKILL container');
        }
      }, graceMs);
    }
  }

  /** Stops the container for good (the pod is going away); resolves when its process group is empty. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stopProbes();
    this.readyNow = false;
    const inst = this.inst;
    if (!inst) {
      this.owner.changed();
      return;
    }
    this.owner.event('Normal', 'Killing', `Stopping container ${this.name}`, this.name);
    this.owner.changed();
    this.killInstance(inst, graceMs);
    const o = this.owner.opts;
    const started = Date.now();
    let warnAt = started + Math.max(graceMs, 0) + STOP_WARN_MS;
    for (;;) {
      if (this.inst === inst && !inst.child) this.pollAdopted(inst);
      // After close() exits are no longer recorded: an empty group is enough.
      if ((this.inst !== inst || this.closed) && !groupAlive(inst.pgid)) return;
      if (Date.now() > warnAt) {
        o.logger.warn({ pod: `${this.owner.namespace}/${this.owner.name}`, container: this.name, pgid: inst.pgid }, 'container processes still alive after SIGKILL');
        warnAt = Date.now() + STOP_WARN_MS;
        signalGroup(inst.pgid, 'SIGKILL');
      }
      await new Promise((r) => setTimeout(r, o.killPollIntervalMs));
    }
  }

  /** Forget timers and probes; leave the process running (the agent is exiting). */
  close(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const p of this.probers) p.stop();
    this.probers = [];
    const inst = this.inst;
    if (inst) {
      if (inst.pollTimer) clearInterval(inst.pollTimer);
      if (inst.killTimer) clearTimeout(inst.killTimer);
      inst.child?.unref();
    }
  }

  status(image: string | undefined): ContainerStatus {
    const s: ContainerStatus = {
      name: this.name,
      ready: this.phase === 'running' && this.readyNow,
      started: this.phase === 'running',
      restartCount: this.restartCount,
      state: this.state(),
    };
    if (this.lastTerminated) s.lastState = { terminated: { ...this.lastTerminated } };
    if (image !== undefined) s.image = image;
    const pid = this.inst?.pid ?? this.lastPid;
    if (pid !== undefined) s.containerID = `process://${pid}`;
    if (this.ports.length > 0) s.ports = this.ports.map((p) => ({ ...p }));
    return s;
  }

  private state(): ContainerState {
    switch (this.phase) {
      case 'new':
        return { waiting: { reason: 'ContainerCreating' } };
      case 'waiting':
        return { waiting: { ...this.waiting } };
      case 'running':
        return { running: { startedAt: this.inst!.startedAt } };
      case 'terminated':
        return { terminated: { ...this.terminated! } };
    }
  }

  toState(): ContainerRecordState {
    const rec: ContainerRecordState = { name: this.name, restartCount: this.restartCount, ports: this.ports };
    if (this.inst) {
      rec.pid = this.inst.pid;
      rec.pgid = this.inst.pgid;
      rec.procStartTime = this.inst.procStartTime;
      rec.startedAt = this.inst.startedAt;
    }
    // A container waiting out its back-off is saved as terminated: a restarted agent decides again.
    const terminated = this.phase === 'terminated' ? this.terminated : this.phase === 'waiting' && !this.configError ? this.lastTerminated : undefined;
    if (terminated) rec.terminated = terminated;
    if (this.lastTerminated) rec.lastTerminated = this.lastTerminated;
    return rec;
  }
}

function formatDelay(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
