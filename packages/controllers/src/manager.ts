/**
 * ControllerManager: runs every controller in one level-triggered pass, on
 * the Raft leader only. It owns no timer: the master calls
 * `onLeadershipChange(isLeader, now)` when Raft says so and `tick(now)` on
 * its own loop.
 *
 * Leadership is checked before every write: controllers get a client
 * wrapped by `leaderGuard`, which throws `NotLeaderError` once leadership is
 * lost (or was lost and regained since the pass began: each leadership is a
 * new epoch, and a pass writes only in the epoch it started in). The pass
 * then stops where it is; the next leader lists the world afresh and
 * resumes, so nothing is done twice.
 *
 * Pass order: node lifecycle (who is alive), garbage collector, deployments,
 * replica sets, daemon sets, endpoints, scheduler. Each controller sees what the ones
 * before it wrote in the same pass.
 */
import { leaderGuard, NotLeaderError, type ControllerClient } from './client.js';
import { DaemonSetController } from './daemonset.js';
import { DeploymentController } from './deployment.js';
import { EndpointsController } from './endpoints.js';
import { GarbageCollector } from './garbage-collector.js';
import { NodeLifecycleController } from './node-lifecycle.js';
import { ReplicaSetController } from './replicaset.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import { ControllerReport } from './util/report.js';

export type ControllerName = 'node-lifecycle' | 'garbage-collector' | 'deployment' | 'replicaset' | 'daemonset' | 'endpoints' | 'scheduler';

export const ALL_CONTROLLERS: readonly ControllerName[] = ['node-lifecycle', 'garbage-collector', 'deployment', 'replicaset', 'daemonset', 'endpoints', 'scheduler'];

export interface ControllerManagerOptions {
  /** When the leader last heard from each node (ms), kept in memory by the master. */
  heartbeats: (nodeName: string) => number | undefined;
  /** `() => [0, 1)` for generated pod names. */
  random: () => number;
  /** `--node-grace` (default 4000). */
  nodeGraceMs?: number;
  /** `--pod-eviction-timeout` (default 5000). */
  podEvictionTimeoutMs?: number;
  /** Which controllers run (in the fixed pass order). Default: all. */
  controllers?: readonly ControllerName[];
  scheduler?: SchedulerOptions;
}

export interface PassResult {
  nowMs: number;
  /** False when leadership was lost during the pass (it stopped at the next write). */
  completed: boolean;
  /** One per controller that ran (a controller that failed outright has one error on `<pass>`). */
  reports: ControllerReport[];
}

interface Runnable {
  name: ControllerName;
  runOnce(nowMs: number): Promise<ControllerReport>;
}

export class ControllerManager {
  private leader = false;
  /** Bumped on every leadership change. */
  private epoch = 0;
  /** The epoch the running (or last) pass started in. */
  private passEpoch = -1;
  private running = false;
  private readonly controllers: Runnable[];
  readonly nodeLifecycle: NodeLifecycleController;
  readonly scheduler: Scheduler;

  constructor(client: ControllerClient, options: ControllerManagerOptions) {
    const guarded = leaderGuard(client, () => this.leader && this.epoch === this.passEpoch);
    this.nodeLifecycle = new NodeLifecycleController(guarded, {
      heartbeats: options.heartbeats,
      nodeGraceMs: options.nodeGraceMs,
      podEvictionTimeoutMs: options.podEvictionTimeoutMs,
    });
    this.scheduler = new Scheduler(guarded, options.scheduler);
    const gc = new GarbageCollector(guarded);
    const deployments = new DeploymentController(guarded);
    const replicaSets = new ReplicaSetController(guarded, { random: options.random });
    const daemonSets = new DaemonSetController(guarded, { random: options.random });
    const endpoints = new EndpointsController(guarded);
    const all: Record<ControllerName, Runnable> = {
      'node-lifecycle': { name: 'node-lifecycle', runOnce: (now) => this.nodeLifecycle.runOnce(now) },
      'garbage-collector': { name: 'garbage-collector', runOnce: (now) => gc.runOnce(now) },
      deployment: { name: 'deployment', runOnce: (now) => deployments.runOnce(now) },
      replicaset: { name: 'replicaset', runOnce: (now) => replicaSets.runOnce(now) },
      daemonset: { name: 'daemonset', runOnce: (now) => daemonSets.runOnce(now) },
      endpoints: { name: 'endpoints', runOnce: (now) => endpoints.runOnce(now) },
      scheduler: { name: 'scheduler', runOnce: (now) => this.scheduler.runOnce(now) },
    };
    const enabled = new Set(options.controllers ?? ALL_CONTROLLERS);
    this.controllers = ALL_CONTROLLERS.filter((name) => enabled.has(name)).map((name) => all[name]);
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** True while a pass is in flight. */
  isRunning(): boolean {
    return this.running;
  }

  /**
   * Raft told us we became (or stopped being) the leader. Losing it stops any
   * pass in flight at its next write; gaining it gives every node a fresh
   * grace period.
   */
  onLeadershipChange(isLeader: boolean, nowMs: number): void {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    this.epoch++;
    if (isLeader) this.nodeLifecycle.onBecameLeader(nowMs);
  }

  start(nowMs: number): void {
    this.onLeadershipChange(true, nowMs);
  }

  stop(nowMs: number): void {
    this.onLeadershipChange(false, nowMs);
  }

  /** Runs a pass if this is the leader and no pass is in flight; otherwise does nothing. */
  async tick(nowMs: number): Promise<PassResult | undefined> {
    if (!this.leader || this.running) return undefined;
    return this.reconcileAll(nowMs);
  }

  /** One pass of every controller. Throws if not the leader or a pass is already running. */
  async reconcileAll(nowMs: number): Promise<PassResult> {
    if (!this.leader) throw new NotLeaderError('reconcile pass');
    if (this.running) throw new Error('ControllerManager.reconcileAll: a pass is already running');
    this.running = true;
    this.passEpoch = this.epoch;
    const reports: ControllerReport[] = [];
    try {
      for (const controller of this.controllers) {
        if (!this.leader || this.epoch !== this.passEpoch) return { nowMs, completed: false, reports };
        try {
          reports.push(await controller.runOnce(nowMs));
        } catch (error) {
          if (error instanceof NotLeaderError) return { nowMs, completed: false, reports };
          const failed = new ControllerReport(controller.name);
          failed.errors.push({ object: '<pass>', message: error instanceof Error ? error.message : String(error), error });
          reports.push(failed);
        }
      }
      return { nowMs, completed: true, reports };
    } finally {
      this.running = false;
    }
  }
}
