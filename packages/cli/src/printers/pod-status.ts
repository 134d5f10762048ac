// The READY, STATUS and RESTARTS cells of a pod, derived as kubectl's pod printer does:
// the most telling container state wins over the phase (CrashLoopBackOff, Error,
// ContainerCreating ...), and a pod being deleted shows Terminating.
import type { ContainerStatus, Pod } from '@bramble/api';
import { humanDuration } from './age.js';

export interface PodSummary {
  /** `1/2`: ready containers of all containers. */
  ready: string;
  status: string;
  restarts: number;
  /** `3 (2m ago)` when a container restarted, with the time of the last restart. */
  restartsCell: string;
}

function terminatedReason(cs: ContainerStatus): string | undefined {
  const t = cs.state?.terminated;
  if (!t) return undefined;
  if (t.reason) return t.reason;
  return t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`;
}

function lastRestartMs(statuses: ContainerStatus[]): number | undefined {
  let latest: number | undefined;
  for (const cs of statuses) {
    const finished = cs.lastState?.terminated?.finishedAt;
    const t = finished ? Date.parse(finished) : NaN;
    if (!Number.isNaN(t) && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
}

export function podSummary(pod: Pod, nowMs: number): PodSummary {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  let status = pod.status?.reason || pod.status?.phase || 'Pending';
  let restarts = 0;
  let readyCount = 0;
  let running = false;
  // kubectl walks the containers from last to first, so the first container's state wins.
  for (const cs of [...statuses].reverse()) {
    restarts += cs.restartCount ?? 0;
    const waiting = cs.state?.waiting?.reason;
    const terminated = terminatedReason(cs);
    if (waiting) status = waiting;
    else if (terminated) status = terminated;
    else if (cs.ready && cs.state?.running) {
      running = true;
      readyCount++;
    }
  }
  if (status === 'Completed' && running) {
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    status = ready ? 'Running' : 'NotReady';
  }
  if (pod.metadata.deletionTimestamp) status = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  let restartsCell = String(restarts);
  const last = restarts > 0 ? lastRestartMs(statuses) : undefined;
  if (last !== undefined) restartsCell += ` (${humanDuration(nowMs - last)} ago)`;
  return { ready: `${readyCount}/${total}`, status, restarts, restartsCell };
}
