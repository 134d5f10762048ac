/**
 * The controller loop of one master: a ControllerManager over the resource store that
 * runs only while this master is the confirmed Raft leader.
 *
 * Leadership: `true` only once this leader's no-op entry has committed and been applied
 * (a ReadIndex round resolves exactly then), so its reads are current; `false` the
 * moment Raft says it stopped leading, or on stop(). A pass in flight stops at its next
 * write (the manager's leaderGuard).
 *
 * Passes: as soon as the previous one finished if the store revision moved since it
 * started (a burst of changes coalesces into one pass), else every `idlePassMs`
 * (node grace periods need time-based passes).
 *
 * Two lanes run side by side, each with its own passes: the scheduler, and every other
 * controller. Like kube-scheduler beside kube-controller-manager, the scheduler then binds
 * the first pods of a large ReplicaSet while the rest are still being created, instead of
 * waiting for the whole creation pass (pod startup latency, not just throughput).
 */
import { ALL_CONTROLLERS, ControllerManager, ControllerReport, type ControllerClient, type ControllerName, type PassResult } from '@bramble/controllers';
import type { Logger } from 'pino';
import type { RaftHost } from '../raft-host.js';
import { ControllerMetrics } from './controller-metrics.js';
import type { HeartbeatTable } from './heartbeats.js';
import { RateLimiter } from './rate-limited-log.js';
import type { Registry } from 'prom-client';

export const DEFAULT_IDLE_PASS_MS = 500;
/** How often the revision is checked between passes. */
const REVISION_POLL_MS = 25;
const CONFIRM_RETRY_MS = 50;
const STOP_WAIT_MS = 500;
const ERROR_LOG_WINDOW_MS = 30_000;
/** Heartbeat entries of nodes silent this long are dropped (deleted nodes). */
const HEARTBEAT_RETENTION_MS = 10 * 60_000;

export type LeadershipHost = Pick<RaftHost, 'isLeader' | 'basicStatus' | 'linearizableRead' | 'on' | 'off' | 'name'> & {
  readonly sm: { readonly kv: { readonly revision: number } };
};

export interface ControllerLoopOptions {
  host: LeadershipHost;
  client: ControllerClient;
  heartbeats: HeartbeatTable;
  /** The clock of the heartbeat table (monotonic, in wall-clock ms). */
  now: () => number;
  nodeGraceMs: number;
  podEvictionTimeoutMs: number;
  registry: Registry;
  logger: Logger;
  idlePassMs?: number;
  requestTimeoutMs?: number;
  /** Called once per confirmed leadership, before the first pass (e.g. the bootstrap join token). */
  onLeading?: () => Promise<void>;
  /** Leader housekeeping (old Events, credentials of deleted nodes); called at most every `sweepEveryMs`. */
  sweepEvents?: (nowMs: number) => Promise<unknown>;
  sweepEveryMs?: number;
}

/** One ControllerManager with its own pass schedule. */
interface Lane {
  name: string;
  manager: ControllerManager;
  running: boolean;
  passInFlight: Promise<void> | undefined;
  lastPassStartMs: number;
  lastPassRevision: number;
}

const LANES: ReadonlyArray<{ name: string; controllers: readonly ControllerName[] }> = [
  { name: 'controllers', controllers: ALL_CONTROLLERS.filter((c) => c !== 'scheduler') },
  { name: 'scheduler', controllers: ['scheduler'] },
];

export class ControllerLoop {
  /** The lane running node lifecycle, GC, deployments, replica sets and daemon sets. */
  readonly manager: ControllerManager;
  readonly metrics: ControllerMetrics;
  private readonly lanes: Lane[];
  private readonly idlePassMs: number;
  private readonly errorLog = new RateLimiter(ERROR_LOG_WINDOW_MS);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private confirming = false;
  private lastSweepMs = -Infinity;
  private readonly onLeaderEvent = (): void => this.leadershipChanged();

  constructor(private readonly o: ControllerLoopOptions) {
    this.idlePassMs = o.idlePassMs ?? DEFAULT_IDLE_PASS_MS;
    this.metrics = new ControllerMetrics(o.registry);
    this.lanes = LANES.map(({ name, controllers }) => ({
      name,
      manager: new ControllerManager(o.client, {
        heartbeats: (node) => o.heartbeats.lastHeard(node),
        random: Math.random,
        nodeGraceMs: o.nodeGraceMs,
        podEvictionTimeoutMs: o.podEvictionTimeoutMs,
        controllers,
      }),
      running: false,
      passInFlight: undefined,
      lastPassStartMs: -Infinity,
      lastPassRevision: -1,
    }));
    this.manager = this.lanes[0].manager;
  }

  /** True while the controllers run here (confirmed leader). */
  get active(): boolean {
    return this.manager.isLeader();
  }

  /** True while a pass is in flight (it may still be finishing after leadership was lost). */
  get busy(): boolean {
    return this.lanes.some((lane) => lane.running);
  }

  start(): void {
    this.o.host.on('leader', this.onLeaderEvent);
    this.timer = setInterval(() => this.maybePass(), REVISION_POLL_MS);
    this.timer.unref();
    this.leadershipChanged();
  }

  /**
   * Stop leading at once, then give a pass in flight a moment to reach its next write
   * (where it stops). Bounded: a read in flight may wait for a quorum that is gone.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.o.host.off('leader', this.onLeaderEvent);
    if (this.timer) clearInterval(this.timer);
    this.setLeader(false);
    const passes = this.lanes.flatMap((lane) => (lane.passInFlight ? [lane.passInFlight] : []));
    if (passes.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(passes), new Promise<void>((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.manager.isLeader()) return;
    const now = this.o.now();
    for (const lane of this.lanes) lane.manager.onLeadershipChange(leader, now);
    this.metrics.active.set(leader ? 1 : 0);
    this.o.logger.info({ member: this.o.host.name, term: this.o.host.basicStatus().term }, leader ? 'controllers started (leader)' : 'controllers stopped (not the leader)');
  }

  private leadershipChanged(): void {
    if (this.stopped) return;
    if (!this.o.host.isLeader) {
      this.setLeader(false);
      return;
    }
    if (!this.manager.isLeader()) void this.confirmLeadership();
  }

  /** Wait until this leader's no-op is applied (a ReadIndex round), then start the controllers. */
  private async confirmLeadership(): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    try {
      while (!this.stopped && this.o.host.isLeader && !this.manager.isLeader()) {
        const term = this.o.host.basicStatus().term;
        try {
          await this.o.host.linearizableRead(this.o.requestTimeoutMs ?? 5000);
        } catch (err) {
          this.o.logger.debug({ err: (err as Error).message }, 'leadership not confirmed yet; retrying');
          await new Promise((r) => setTimeout(r, CONFIRM_RETRY_MS));
          continue;
        }
        if (this.stopped || !this.o.host.isLeader || this.o.host.basicStatus().term !== term) continue;
        if (this.o.onLeading) {
          try {
            await this.o.onLeading();
          } catch (err) {
            this.o.logger.error({ err: (err as Error).message }, 'leader start-up task failed; continuing');
          }
        }
        if (this.stopped || !this.o.host.isLeader || this.o.host.basicStatus().term !== term) continue;
        this.setLeader(true);
        this.maybePass();
      }
    } finally {
      this.confirming = false;
    }
  }

  private maybePass(): void {
    for (const lane of this.lanes) this.maybeLanePass(lane);
  }

  private maybeLanePass(lane: Lane): void {
    if (lane.running || this.stopped || !lane.manager.isLeader()) return;
    const now = this.o.now();
    const moved = this.o.host.sm.kv.revision !== lane.lastPassRevision;
    if (!moved && now - lane.lastPassStartMs < this.idlePassMs) return;
    lane.running = true;
    lane.passInFlight = this.runPass(lane, now).finally(() => {
      lane.running = false;
      lane.passInFlight = undefined;
      // The store moved while the pass ran (its own writes included): go again at once.
      if (this.o.host.sm.kv.revision !== lane.lastPassRevision) setImmediate(() => this.maybeLanePass(lane));
    });
  }

  private async runPass(lane: Lane, now: number): Promise<void> {
    lane.lastPassStartMs = now;
    lane.lastPassRevision = this.o.host.sm.kv.revision;
    const stopTimer = this.metrics.passDuration.startTimer();
    let result: PassResult | undefined;
    try {
      result = await lane.manager.tick(now);
    } catch (err) {
      this.metrics.passes.inc({ result: 'failed' });
      this.logError('<pass>', `<${lane.name} pass>`, err instanceof Error ? err.message : String(err), now);
      return;
    }
    stopTimer();
    if (!result) return;
    this.metrics.passes.inc({ result: result.completed ? 'completed' : 'interrupted' });
    for (const report of result.reports) this.account(report, now);
    if (lane !== this.lanes[0]) return;
    this.o.heartbeats.prune(HEARTBEAT_RETENTION_MS);
    await this.maybeSweep(now);
  }

  private account(report: ControllerReport, now: number): void {
    if (report.conflicts.length > 0) this.metrics.conflicts.inc({ controller: report.controller }, report.conflicts.length);
    if (report.errors.length === 0) return;
    this.metrics.errors.inc({ controller: report.controller }, report.errors.length);
    for (const e of report.errors) this.logError(report.controller, e.object, e.message, now);
  }

  private logError(controller: string, object: string, message: string, now: number): void {
    if (this.stopped) return; // reads cut short by shutdown
    if (!this.errorLog.allow(`${controller}\u0000${object}\u0000${message}`, now)) return;
    this.o.logger.error({ controller, object, err: message }, 'controller error');
  }

  private async maybeSweep(now: number): Promise<void> {
    if (!this.o.sweepEvents || now - this.lastSweepMs < (this.o.sweepEveryMs ?? 60_000) || !this.manager.isLeader()) return;
    this.lastSweepMs = now;
    try {
      await this.o.sweepEvents(now);
    } catch (err) {
      this.logError('event-sweeper', '<events>', err instanceof Error ? err.message : String(err), now);
    }
  }
}
