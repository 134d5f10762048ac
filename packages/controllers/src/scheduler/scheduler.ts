/**
 * The scheduler loop: binds every pending, unbound pod (oldest first) to the
 * node `schedule` picks, by compare-and-set on the pod's resourceVersion, and
 * records Scheduled / FailedScheduling events. Pods it binds count against
 * their node for the rest of the pass.
 */
import type { Node, Pod } from '@bramble/api';
import { deepEqual } from '@bramble/api';
import type { ControllerClient } from '../client.js';
import { Reasons } from '../reasons.js';
import { getCondition, setCondition } from '../util/conditions.js';
import { EventRecorder } from '../util/events.js';
import { byCreation, isBeingDeleted, isPodTerminated, podKey } from '../util/pods.js';
import { ControllerReport } from '../util/report.js';
import { isoTime } from '../util/time.js';
import { podsByNode, schedule, type ScheduleOptions } from './schedule.js';

export const SCHEDULER_COMPONENT = 'default-scheduler';

export interface SchedulerOptions extends ScheduleOptions {
  component?: string;
  /** A pod that still fits nowhere, for the same reasons, gets its next FailedScheduling event after this long. */
  failedSchedulingRepeatMs?: number;
  /** Bound on pods considered per pass (oldest first). */
  maxPodsPerPass?: number;
}

/** Pending: not bound, not being deleted, not finished. */
export function isPendingUnbound(pod: Pod): boolean {
  return !pod.spec.nodeName && !isBeingDeleted(pod) && !isPodTerminated(pod);
}

export class Scheduler {
  private readonly component: string;
  private readonly repeatMs: number;
  private readonly maxPods: number;
  /** Last FailedScheduling per pod uid (bounded by the pending pods: entries of other pods are dropped each pass). */
  private readonly lastFailure = new Map<string, { message: string; atMs: number }>();

  constructor(
    private readonly client: ControllerClient,
    private readonly options: SchedulerOptions = {},
  ) {
    this.component = options.component ?? SCHEDULER_COMPONENT;
    this.repeatMs = options.failedSchedulingRepeatMs ?? 60_000;
    this.maxPods = options.maxPodsPerPass ?? 1000;
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

    for (const pod of pending) {
      await report.guard(podKey(pod), async () => {
        const result = schedule(pod, nodes, onNodes, this.options);
        const ns = pod.metadata.namespace ?? 'default';
        const name = pod.metadata.name ?? '';
        if (result.node !== undefined) {
          const bound = await this.client.bindPod(ns, name, result.node, pod.metadata.resourceVersion ?? '');
          const list = onNodes.get(result.node) ?? [];
          list.push(bound);
          onNodes.set(result.node, list);
          this.lastFailure.delete(pod.metadata.uid ?? '');
          report.action(`bind ${ns}/${name} ${result.node}`);
          await recorder.normal(bound, Reasons.Scheduled, `Successfully assigned ${ns}/${name} to ${result.node}`);
        } else {
          await this.reportUnschedulable(pod, result.message ?? '', recorder, nowMs, report);
        }
      });
    }
    return report;
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
