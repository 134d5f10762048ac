// Events the proxy records against Services (component `bramble-proxy`, like kube-proxy's),
// each reason at most once per `intervalMs` per service port so a port that stays taken
// does not flood the masters.
import type { EventRecorder } from '../events.js';
import type { ServicePortRef } from './plan.js';

export interface ProxyEventSink {
  failedToListen(target: ServicePortRef, nodeAddress: string, port: number, err: NodeJS.ErrnoException): void;
}

export interface ProxyEventRecorderOptions {
  /** The agent's recorder: the proxy's events go in its batches. */
  events: Pick<EventRecorder, 'submit'>;
  nodeName: string;
  intervalMs?: number;
  now?: () => number;
}

export const FAILED_TO_LISTEN = 'FailedToListen';

export class ProxyEventRecorder implements ProxyEventSink {
  private readonly last = new Map<string, number>();

  constructor(private readonly o: ProxyEventRecorderOptions) {}

  failedToListen(target: ServicePortRef, nodeAddress: string, port: number, err: NodeJS.ErrnoException): void {
    const now = (this.o.now ?? Date.now)();
    const key = `${target.service}:${port}`;
    const last = this.last.get(key);
    if (last !== undefined && now - last < (this.o.intervalMs ?? 60_000)) return;
    // Bounded: entries only for ports that failed, dropped once a minute has passed.
    for (const [k, t] of this.last) if (now - t >= (this.o.intervalMs ?? 60_000)) this.last.delete(k);
    this.last.set(key, now);
    const code = err.code ? ` (${err.code})` : '';
    this.o.events.submit({
      involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: target.namespace, name: target.name, uid: target.uid },
      type: 'Warning',
      reason: FAILED_TO_LISTEN,
      message: `node ${this.o.nodeName}: cannot listen on ${nodeAddress}:${port}${code}: ${err.message}; retrying`,
      component: 'bramble-proxy',
      timeMs: now,
    });
  }
}
