/**
 * The scheduler loop: binds every pending, unbound pod (oldest first) to the
 * node `schedule` picks, by compare-and-set on the pod's resourceVersion, and
 * records Scheduled / FailedScheduling events. Pods it places count against
 * their node for the rest of the pass; the bindings are written concurrently.
 */
import type { Node, Pod } from '@bramble/api';
import { deepEqual } from '@bramble/api';
import { NotLeaderError, type ControllerClient } from '../client.js';
import { DEFAULT_MAX_IN_FLIGHT, forEachBounded } from '../util/concurrency.js';
import { Reasons } from '../reasons.js';
import { getCondition, setCondition } from '../util/conditions.js';
import { EventRecorder } from '../util/events.js';
import { byCreation, isBeingDeleted, isPodTerminated, podKey } from '../util/pods.js';
import { ControllerReport } from '../util/report.js';
import { isoTime } from '../util/time.js';
import { assumePod, nodeInfo, type NodeInfo } from './filters.js';
import { nodeInfos, podsByNode, scheduleOnInfos, type ScheduleOptions } from './schedule.js';

export const SCHEDULER_COMPONENT = 'default-scheduler';

export interface SchedulerOptions extends ScheduleOptions {
  component?: string;
  /** A pod that still fits nowhere, for the same reasons, gets its next FailedScheduling event after this long. */
  failedSchedulingRepeatMs?: number;
  /** Bound on pods considered per pass (oldest first). */
  maxPodsPerPass?: number;
  /** Bindings in flight at once (default 64). */
  maxInFlight?: number;
}

/** Pending: not bound, not being deleted, not finished. */
export function isPendingUnbound(pod: Pod): boolean {
  return !pod.spec.nodeName && !isBeingDeleted(pod) && !isPodTerminated(pod);
}

export class Scheduler {
  private readonly component: string;
  private readonly repeatMs: number;
  private readonly maxPods: number;
  private readonly maxInFlight: number;
  /** Last FailedScheduling per pod uid (bounded by the pending pods: entries of other pods are dropped each pass). */
  private readonly lastFailure = new Map<string, { message: string; atMs: number }>();

  constructor(
    private readonly client: ControllerClient,
    private readonly options: SchedulerOptions = {},
  ) {
    this.component = options.component ?? SCHEDULER_COMPONENT;
    this.repeatMs = options.failedSchedulingRepeatMs ?? 60_000;
    this.maxPods = options.maxPodsPerPass ?? 1000;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('scheduler');
    const recorder = new EventRecorder(this.client, this.component, nowMs);
    const nodes: Node[] = await this.client.list('Node');
    const pods = await this.client.list('Pod');
    const onNodes = podsByNode(pods.filter((p) => !isPodTerminated(p)));
    const pending = pods.filter(isPendingUnbound).sort(byCreation).slice(0, this.maxPods);
    const pendingUids = new Set(pending.map((p) => p.metadata.uid));
    for (const uid of this.lastFailure.keys()) if (!pendingUids.has(uid)) this.lastFailure.delete(uid);

    // Decide every pod first, in creation order, assuming each chosen placement (as Kubernetes'
    // scheduler cache does), so later decisions of this pass count earlier ones. Then write the
    // bindings concurrently; a binding that fails is forgotten again, leaving the pod to the next pass.
    const infos = nodeInfos(nodes, onNodes);
    const infoByName = new Map(infos.map((info) => [info.name, info]));
    const binds: Array<{ pod: Pod; node: string }> = [];
    const unschedulable: Array<{ pod: Pod; message: string }> = [];
    for (const pod of pending) {
      const result = scheduleOnInfos(pod, infos, this.options);
      if (result.node === undefined) {
        unschedulable.push({ pod, message: result.message ?? '' });
        continue;
      }
      assumePod(infoByName.get(result.node)!, pod);
      binds.push({ pod, node: result.node });
    }

    await forEachBounded(binds, this.maxInFlight, ({ pod, node }) =>
      report.guard(podKey(pod), async () => {
        const ns = pod.metadata.namespace ?? 'default';
        const name = pod.metadata.name ?? '';
        try {
          const bound = await this.client.bindPod(ns, name, node, pod.metadata.resourceVersion ?? '');
          this.lastFailure.delete(pod.metadata.uid ?? '');
          report.action(`bind ${ns}/${name} ${node}`);
          recorder.defer(bound, 'Normal', Reasons.Scheduled, `Successfully assigned ${ns}/${name} to ${node}`);
        } catch (error) {
          if (!(error instanceof NotLeaderError)) this.forget(infoByName, onNodes, node, pod);
          throw error;
        }
      }),
    );
    await forEachBounded(unschedulable, this.maxInFlight, ({ pod, message }) =>
      report.guard(podKey(pod), () => this.reportUnschedulable(pod, message, recorder, nowMs, report)),
    );
    await report.guard('<events>', () => recorder.settle());
    return report;
  }

  /** Undo an assumed placement whose binding failed: that node's view is rebuilt without it. */
  private forget(infos: Map<string, NodeInfo>, onNodes: ReadonlyMap<string, readonly Pod[]>, node: string, pod: Pod): void {
    const info = infos.get(node);
    if (!info) return;
    const fresh = nodeInfo(info.node, [...(onNodes.get(node) ?? []), ...info.pods.filter((p) => p !== pod && !p.spec.nodeName)]);
    Object.assign(info, fresh, { ownerCounts: undefined });
  }

  private async reportUnschedulable(pod: Pod, message: string, recorder: EventRecorder, nowMs: number, report: ControllerReport): Promise<void> {
    const uid = pod.metadata.uid ?? podKey(pod);
    const last = this.lastFailure.get(uid);
    if (last && last.message === message && nowMs - last.atMs < this.repeatMs) return;
    this.lastFailure.set(uid, { message, atMs: nowMs });
    report.action(`unschedulable ${podKey(pod)}: ${message}`);
    await recorder.warning(pod, Reasons.FailedScheduling, message);
    const conditions = setCondition(pod.status?.conditions, {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastTransitionTime: isoTime(nowMs),
    });
    const before = getCondition(pod.status?.conditions, 'PodScheduled');
    const after = getCondition(conditions, 'PodScheduled');
    if (deepEqual(before, after)) return;
    await this.client.updateStatus({ ...pod, status: { phase: 'Pending', ...pod.status, conditions } });
  }
}
