/** Pod phase and conditions from container statuses, with Kubernetes' rules. */
import type { ContainerStatus, PodCondition, PodPhase, RestartPolicy } from '@bramble/api';

/**
 * Pending while some container has never started; Running while one runs or will be
 * restarted; once every container has stopped for good: Succeeded if all exited 0,
 * otherwise Failed.
 */
export function podPhase(statuses: ContainerStatus[], willRestart: (name: string) => boolean): PodPhase {
  let running = 0;
  let neverStarted = 0;
  let restarting = 0;
  let succeeded = 0;
  let failed = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      if (willRestart(s.name)) restarting++;
      else if (s.state.terminated.exitCode === 0) succeeded++;
      else failed++;
    } else if (s.lastState?.terminated) restarting++;
    else neverStarted++;
  }
  if (neverStarted > 0) return 'Pending';
  if (running > 0 || restarting > 0) return 'Running';
  if (statuses.length > 0 && failed === 0 && succeeded === statuses.length) return 'Succeeded';
  return 'Failed';
}

export function isFinished(phase: PodPhase): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Keeps each condition's lastTransitionTime stable while its status does not change. */
export class ConditionClock {
  private readonly seen = new Map<string, { status: string; time: string }>();

  stamp(type: string, status: PodCondition['status'], nowIso: string): string {
    const prev = this.seen.get(type);
    if (prev && prev.status === status) return prev.time;
    this.seen.set(type, { status, time: nowIso });
    return nowIso;
  }
}

export function podConditions(statuses: ContainerStatus[], phase: PodPhase, clock: ConditionClock, nowIso: string): PodCondition[] {
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const ready = unready.length === 0 && statuses.length > 0;
  const completed = phase === 'Succeeded';
  const reason = ready ? undefined : completed ? 'PodCompleted' : 'ContainersNotReady';
  const message = ready || completed ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  const cond = (type: string, status: PodCondition['status'], r?: string, m?: string): PodCondition => {
    const c: PodCondition = { type, status, lastTransitionTime: clock.stamp(type, status, nowIso) };
    if (r) c.reason = r;
    if (m) c.message = m;
    return c;
  };
  const readyStatus = ready ? 'True' : 'False';
  return [
    cond('Initialized', 'True', completed ? 'PodCompleted' : undefined),
    cond('ContainersReady', readyStatus, reason, message),
    cond('Ready', readyStatus, reason, message),
  ];
}

/** Whether a container that exited with `exitCode` is started again under `policy`. */
export function shouldRestart(policy: RestartPolicy | undefined, exitCode: number): boolean {
  switch (policy ?? 'Always') {
    case 'Always':
      return true;
    case 'OnFailure':
      return exitCode !== 0;
    case 'Never':
      return false;
  }
}
