/**
 * The scheduler loop: binds every pending, unbound pod (oldest first) to the
 * node `schedule` picks, by compare-and-set on the pod's resourceVersion, and
 * records Scheduled / FailedScheduling events. Pods it places count against
 * their node at once; the bindings are written concurrently, and a pass keeps
 * placing pods created while its bindings are in flight (see runOnce).
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
import { assumePod } from './filters.js';
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

  /**
   * One pass, as a rolling pipeline (the scheduling cycle and the binding cycle of
   * Kubernetes' scheduler): pods are decided one by one in creation order, each placement
   * counted at once (assumed) for the decisions after it, and bound without waiting; while
   * bindings are in flight the pass re-reads the pods whenever one of them settles and
   * places the pods created meanwhile. A pod created during a long pass therefore waits
   * for a free binding slot, not for the whole pass. The pass ends once nothing is in
   * flight and no pending pod is left undecided. Each pod is decided at most once per
   * pass: a binding that lost a race is decided again by the next pass.
   */
  async runOnce(nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('scheduler');
    const recorder = new EventRecorder(this.client, this.component, nowMs);
    /** Bindings in flight, by pod uid, with the node each pod is going to. */
    const binding = new Map<string, { node: string; settled: Promise<void> }>();
    const decided = new Set<string>();
    const unschedulable: Array<{ pod: Pod; message: string }> = [];
    let lost: NotLeaderError | undefined;
    for (let round = 0; ; round++) {
      const nodes: Node[] = await this.client.list('Node');
      const pods = await this.client.list('Pod');
      const unbound = pods.filter(isPendingUnbound);
      if (round === 0) {
        const pendingUids = new Set(unbound.map((p) => p.metadata.uid));
        for (const uid of this.lastFailure.keys()) if (!pendingUids.has(uid)) this.lastFailure.delete(uid);
      }
      const infos = nodeInfos(nodes, podsByNode(pods.filter((p) => !isPodTerminated(p))));
      const infoByName = new Map(infos.map((info) => [info.name, info]));
      // A pod whose binding is in flight (and not yet visible here) counts where it is going.
      for (const pod of unbound) {
        const going = binding.get(pod.metadata.uid ?? '');
        const info = going && infoByName.get(going.node);
        if (info) assumePod(info, pod);
      }
      const undecided = unbound.filter((p) => !decided.has(p.metadata.uid ?? '') && !binding.has(p.metadata.uid ?? '')).sort(byCreation);
      for (const pod of undecided) {
        if (lost || binding.size >= this.maxInFlight || decided.size >= this.maxPods) break;
        const uid = pod.metadata.uid ?? '';
        decided.add(uid);
        const result = scheduleOnInfos(pod, infos, this.options);
        if (result.node === undefined) {
          unschedulable.push({ pod, message: result.message ?? '' });
          continue;
        }
        const node = result.node;
        const info = infoByName.get(node)!;
        assumePod(info, pod);
        const settled = this.bind(pod, node, recorder, report)
          .catch((error: unknown) => {
            if (error instanceof NotLeaderError) lost ??= error;
          })
          .finally(() => binding.delete(uid));
        binding.set(uid, { node, settled });
      }
      if (binding.size === 0) break;
      // Wait for one binding to settle, then look again (new pods, freed slots). Bindings
      // committed together settle together: one more turn of the event loop lets them all
      // land before the pods are read again.
      await Promise.race([...binding.values()].map((b) => b.settled));
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (lost) {
        await Promise.all([...binding.values()].map((b) => b.settled));
        break;
      }
    }
    if (lost) throw lost;
    await forEachBounded(unschedulable, this.maxInFlight, ({ pod, message }) =>
      report.guard(podKey(pod), () => this.reportUnschedulable(pod, message, recorder, nowMs, report)),
    );
    await report.guard('<events>', () => recorder.settle());
    return report;
  }

  /**
   * Writes one binding. A failed one needs no undo: every round rebuilds the nodes' view from
   * the store, where the pod is still unbound (and no longer counted as in flight).
   */
  private async bind(pod: Pod, node: string, recorder: EventRecorder, report: ControllerReport): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    await report.guard(podKey(pod), async () => {
      const bound = await this.client.bindPod(ns, name, node, pod.metadata.resourceVersion ?? '');
      this.lastFailure.delete(pod.metadata.uid ?? '');
      report.action(`bind ${ns}/${name} ${node}`);
      recorder.defer(bound, 'Normal', Reasons.Scheduled, `Successfully assigned ${ns}/${name} to ${node}`);
    });
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
