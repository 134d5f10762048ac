// The pod sync loop: reconciles the pods the API binds to this node with the runtime.
// - a pod seen (list or watch): resolve its env, hand it to the runtime, report its status;
// - a pod with deletionTimestamp: kill its processes, then delete it with grace 0 so it disappears;
// - a pod the API no longer has (deleted, or missing from a re-list): kill its processes.
// While the masters are unreachable nothing here runs, so pods keep running as they are.
import { canonicalJson, DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, isApiError, type Pod, type PodStatus, type Service } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import { Backoff } from '@bramble/transport';
import type { Logger } from 'pino';
import { errorMessage, isTransient } from './errors.js';
import type { EventRecorder } from './events.js';
import type { AgentMetrics } from './metrics.js';
import { ConfigWatch, type ConfigKind } from './config-watch.js';
import { ConfigRefError, envReferences, resolvePodEnv, type PodConfigObjects } from './pod-env.js';
import { configErrorStatus, isStarting, statusFromRuntime } from './pod-status.js';
import { configReferences, resolvePodVolumes, volumeReferences } from './pod-volumes.js';
import type { PodRuntime, RuntimeEvent } from './runtime/types.js';
import type { ServiceSource } from './service-env.js';
import { sleep } from './sleep.js';
import { StatusWriter } from './status-writer.js';

export interface PodManagerOptions {
  nodeName: string;
  address: string;
  resources: ResourcesApi;
  runtime: PodRuntime;
  events: EventRecorder;
  metrics: AgentMetrics;
  logger: Logger;
  /** First retry of a pod whose env references failed; doubles up to CONFIG_RETRY_MAX_MS. */
  configRetryMs: number;
  statusConcurrency: number;
  /** How long a starting pod's first status waits for its containers to run (default FIRST_STATUS_HOLD_MS). */
  firstStatusHoldMs?: number;
  /** Back-off of API retries (status writes, deletes). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Services for <NAME>_SERVICE_* env (the agent's ServiceCache); see setServiceSource. */
  services?: ServiceSource;
}

const CONFIG_RETRY_MAX_MS = 10_000;
/**
 * Most containers start within this: their pod goes from no status straight to Running in one
 * write, instead of Pending (ContainerCreating) then Running. A slower start is still reported
 * as Pending after it.
 */
export const FIRST_STATUS_HOLD_MS = 250;
/** The same missing-reference event is recorded again at most this often (not once per retry). */
const CONFIG_EVENT_REPEAT_MS = 60_000;
/** Uids of pods already deleted, remembered so a late event cannot bring one back. */
const MAX_GONE_UIDS = 4096;

interface PodState {
  pod: Pod;
  firstSeenMs: number;
  /** The spec last handed to the runtime (canonical JSON). */
  syncedSpec?: string;
  resolving: boolean;
  resyncWanted: boolean;
  configError?: string;
  /** Waiting reason that goes with configError. */
  configErrorReason?: string;
  /** Bumped when a ConfigMap/Secret the pod uses changed: part of the sync key, so the pod is resolved again. */
  configGen: number;
  lastConfigEvent?: { message: string; atMs: number };
  configRetryMs?: number;
  configTimer?: NodeJS.Timeout;
  terminating: boolean;
  reportedRunning: boolean;
}

function podRef(pod: Pod): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

function olderThan(a: Pod, b: Pod): boolean {
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  return Number.isFinite(ra) && Number.isFinite(rb) && ra < rb;
}

/** What was last handed to the runtime: the spec, and the generation of the config objects it used. */
function syncKey(s: PodState): string {
  return `${canonicalJson(s.pod.spec)}#${s.configGen}`;
}

export function gracePeriodOf(pod: Pod | undefined): number {
  return pod?.metadata.deletionGracePeriodSeconds ?? pod?.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
}

export class PodManager {
  private readonly pods = new Map<string, PodState>();
  private readonly gone = new Set<string>();
  private readonly killing = new Map<string, Promise<void>>();
  readonly statusWriter: StatusWriter;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly configWatch: ConfigWatch;
  /** Services for the pods' <NAME>_SERVICE_* env; without one (or before it synced) each pod start lists them. */
  private serviceSource: ServiceSource | undefined;

  constructor(private readonly o: PodManagerOptions) {
    this.serviceSource = o.services;
    this.configWatch = new ConfigWatch({
      resources: o.resources,
      logger: o.logger,
      onChange: (kind, namespace, name) => this.configChanged(kind, namespace, name),
      retryInitialMs: o.retryInitialMs,
      retryMaxMs: o.retryMaxMs,
    });
    this.statusWriter = new StatusWriter({
      resources: o.resources,
      desired: (uid) => this.desiredStatus(uid),
      observe: (pod) => this.upsert(pod),
      onWritten: (pod) => this.noteWritten(pod),
      concurrency: o.statusConcurrency,
      firstWriteHoldMs: o.firstStatusHoldMs ?? FIRST_STATUS_HOLD_MS,
      isStarting,
      logger: o.logger,
      metrics: o.metrics,
      retryInitialMs: o.retryInitialMs,
      retryMaxMs: o.retryMaxMs,
    });
    o.runtime.onStatusChange((uid) => this.statusWriter.markDirty(uid));
    o.runtime.onEvent((event) => this.onRuntimeEvent(event));
  }

  // ------------------------------------------------------------ input from the pod source

  /** A full list of the pods bound here: everything else the runtime holds is killed. */
  replaceAll(pods: Pod[]): void {
    const listed = new Set(pods.map((p) => p.metadata.uid ?? ''));
    for (const pod of pods) this.upsert(pod);
    for (const s of [...this.pods.values()]) if (!listed.has(s.pod.metadata.uid ?? '')) this.remove(s.pod, 'no longer in the API');
    for (const uid of this.o.runtime.knownPods()) {
      if (!listed.has(uid) && !this.pods.has(uid)) this.kill(uid, DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, 'unknown to the API');
    }
  }

  /** A pod added or changed (also our own status writes coming back). */
  upsert(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid || this.stopped || this.gone.has(uid)) return;
    let s = this.pods.get(uid);
    if (!s) {
      s = { pod, firstSeenMs: Date.now(), resolving: false, resyncWanted: false, terminating: false, reportedRunning: false, configGen: 0 };
      this.pods.set(uid, s);
    } else {
      if (olderThan(pod, s.pod)) return;
      // The same version again (typically our own status write coming back through the watch): nothing new.
      if (pod.metadata.resourceVersion !== undefined && pod.metadata.resourceVersion === s.pod.metadata.resourceVersion) return;
      s.pod = pod;
    }
    if (pod.metadata.deletionTimestamp) {
      this.terminate(s);
      return;
    }
    this.sync(s);
    this.statusWriter.markDirty(uid);
  }

  /** The API no longer has the pod (deleted by force, or by us after killing it). */
  remove(pod: Pod, why = 'deleted from the API'): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    const s = this.pods.get(uid);
    if (s?.terminating) return; // our own kill-then-delete finishes (and forgets) it
    this.forget(uid);
    if (this.o.runtime.knownPods().includes(uid)) this.kill(uid, gracePeriodOf(s?.pod ?? pod), why, s?.pod ?? pod);
  }

  // ------------------------------------------------------------ queries

  findPod(namespace: string, name: string): Pod | undefined {
    for (const s of this.pods.values()) if (s.pod.metadata.name === name && (s.pod.metadata.namespace ?? 'default') === namespace) return s.pod;
    return undefined;
  }

  get podCount(): number {
    return this.pods.size;
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const s of this.pods.values()) clearTimeout(s.configTimer);
    void this.configWatch.stop();
    this.statusWriter.stop();
  }

  // ------------------------------------------------------------ starting pods

  private sync(s: PodState): void {
    if (s.terminating || this.stopped) return;
    const pod = s.pod;
    const specKey = syncKey(s);
    if (s.syncedSpec === specKey) return;
    if (s.resolving) {
      s.resyncWanted = true;
      return;
    }
    if (s.configTimer) return; // a retry is already scheduled
    const seenMs = Date.now();
    const refs = configReferences(pod);
    const noRefs = refs.configMaps.size === 0 && refs.secrets.size === 0;
    const services = this.cachedServices(pod);
    if (noRefs && services !== undefined) {
      // The common case stays synchronous: nothing to read, no latency added.
      this.handToRuntime(s, pod, specKey, { configMaps: new Map(), secrets: new Map(), services }, seenMs);
      return;
    }
    if (!noRefs) this.configWatch.start();
    s.resolving = true;
    this.fetchConfig(pod, refs)
      .then(
        (objects) => {
          if (this.pods.get(pod.metadata.uid ?? '') !== s || s.terminating || this.stopped) return;
          if (syncKey(s) !== specKey) s.resyncWanted = true;
          else this.handToRuntime(s, pod, specKey, objects, seenMs);
        },
        (err) => this.configFailed(s, err),
      )
      .finally(() => {
        s.resolving = false;
        if (s.resyncWanted) {
          s.resyncWanted = false;
          this.sync(s);
        }
      });
  }

  private async fetchConfig(pod: Pod, refs: { configMaps: Set<string>; secrets: Set<string> }): Promise<PodConfigObjects> {
    const ns = pod.metadata.namespace ?? 'default';
    const get = async <K extends 'ConfigMap' | 'Secret'>(kind: K, name: string) => {
      try {
        return await this.o.resources.get(kind, ns, name);
      } catch (err) {
        if (isApiError(err, 'NotFound')) return undefined;
        throw err;
      }
    };
    const [cms, secrets, services] = await Promise.all([
      Promise.all([...refs.configMaps].map(async (n) => [n, await get('ConfigMap', n)] as const)),
      Promise.all([...refs.secrets].map(async (n) => [n, await get('Secret', n)] as const)),
      this.servicesFor(pod),
    ]);
    return { configMaps: new Map(cms), secrets: new Map(secrets), services };
  }

  /** Where the Services for pod env come from from now on (the proxy's watch-fed cache). */
  setServiceSource(source: ServiceSource | undefined): void {
    this.serviceSource = source;
  }

  /** The Services of the pod's namespace from the cache, if it has listed them at least once. */
  private cachedServices(pod: Pod): Service[] | undefined {
    const source = this.serviceSource;
    return source?.synced ? source.servicesInNamespace(pod.metadata.namespace ?? 'default') : undefined;
  }

  private async servicesFor(pod: Pod): Promise<Service[]> {
    const namespace = pod.metadata.namespace ?? 'default';
    return this.cachedServices(pod) ?? (await this.o.resources.list('Service', { namespace })).items.filter((s) => (s.metadata.namespace ?? 'default') === namespace);
  }

  private handToRuntime(s: PodState, pod: Pod, specKey: string, objects: PodConfigObjects, seenMs: number): void {
    let resolvedEnv;
    let volumeFiles;
    try {
      // Volumes first: as in Kubernetes, a pod that cannot mount its volumes never gets to creating containers.
      volumeFiles = resolvePodVolumes(pod, objects);
      resolvedEnv = resolvePodEnv(pod, objects, { address: this.o.address });
    } catch (err) {
      this.configFailed(s, err);
      return;
    }
    try {
      this.o.runtime.syncPod({ pod, resolvedEnv, ...(pod.spec.volumes?.length ? { volumeFiles } : {}) });
    } catch (err) {
      // The runtime refuses this spec (or is closing): retrying the same spec cannot help.
      s.syncedSpec = specKey;
      this.o.logger.error({ pod: podRef(pod), err: errorMessage(err) }, 'runtime refused the pod');
      this.o.events.record(pod, 'Warning', 'FailedSync', `Error: ${errorMessage(err)}`);
      return;
    }
    s.syncedSpec = specKey;
    s.configRetryMs = undefined;
    if (s.configError !== undefined) {
      this.o.logger.info({ pod: podRef(pod) }, 'config references resolved, syncing the pod');
      s.configError = undefined;
      s.configErrorReason = undefined;
      s.lastConfigEvent = undefined;
    }
    this.o.metrics.syncLatency.observe((Date.now() - seenMs) / 1000);
  }

  private configFailed(s: PodState, err: unknown): void {
    if (this.stopped || s.terminating) return;
    const pod = s.pod;
    if (err instanceof ConfigRefError) {
      const first = s.configError !== err.message;
      s.configError = err.message;
      s.configErrorReason = err.waitingReason;
      if (first) this.o.logger.warn({ pod: podRef(pod), err: err.message }, 'cannot start the pod: a ConfigMap/Secret reference is missing');
      const nowMs = Date.now();
      const last = s.lastConfigEvent;
      if (!last || last.message !== err.message || nowMs - last.atMs >= CONFIG_EVENT_REPEAT_MS) {
        s.lastConfigEvent = { message: err.message, atMs: nowMs };
        const message = err.eventReason === 'Failed' ? `Error: ${err.message}` : err.message;
        this.o.events.record(pod, 'Warning', err.eventReason, message, err.container ? `spec.containers{${err.container}}` : undefined);
      }
      this.statusWriter.markDirty(pod.metadata.uid ?? '');
    } else if (isTransient(err)) {
      this.o.logger.debug({ pod: podRef(pod), err: errorMessage(err) }, 'reading env references failed, will retry');
    } else {
      this.o.logger.error({ pod: podRef(pod), err: errorMessage(err) }, 'resolving env failed, will retry');
    }
    const delayMs = s.configRetryMs === undefined ? this.o.configRetryMs : Math.min(s.configRetryMs * 2, CONFIG_RETRY_MAX_MS);
    s.configRetryMs = delayMs;
    s.configTimer = setTimeout(() => {
      s.configTimer = undefined;
      if (this.pods.get(pod.metadata.uid ?? '') === s) this.sync(s);
    }, delayMs);
  }

  /**
   * A ConfigMap or Secret changed (or was created, or deleted). Pods still waiting for it
   * retry now; running pods that mount it get their volume rewritten. Env values of running
   * containers stay as they were started, as in Kubernetes.
   */
  private configChanged(kind: ConfigKind, namespace: string, name: string): void {
    if (this.stopped) return;
    for (const s of this.pods.values()) {
      if (s.terminating || (s.pod.metadata.namespace ?? 'default') !== namespace) continue;
      const has = (refs: { configMaps: Set<string>; secrets: Set<string> }) => (kind === 'ConfigMap' ? refs.configMaps : refs.secrets).has(name);
      const waiting = s.syncedSpec === undefined || s.configError !== undefined;
      if (!has(volumeReferences(s.pod)) && !(waiting && has(envReferences(s.pod)))) continue;
      clearTimeout(s.configTimer);
      s.configTimer = undefined;
      s.configGen++;
      this.sync(s);
    }
  }

  // ------------------------------------------------------------ status

  private desiredStatus(uid: string): { pod: Pod; status: PodStatus } | undefined {
    const s = this.pods.get(uid);
    if (!s || s.terminating) return undefined;
    const rt = this.o.runtime.status(uid);
    if (rt) return { pod: s.pod, status: statusFromRuntime(s.pod, rt, this.o.address) };
    if (s.configError !== undefined) return { pod: s.pod, status: configErrorStatus(s.pod, s.configError, this.o.address, new Date().toISOString(), s.configErrorReason) };
    return undefined;
  }

  private noteWritten(pod: Pod): void {
    const s = this.pods.get(pod.metadata.uid ?? '');
    if (s && !s.reportedRunning && pod.status?.phase === 'Running') {
      s.reportedRunning = true;
      this.o.metrics.podStartLatency.observe((Date.now() - s.firstSeenMs) / 1000);
    }
  }

  private onRuntimeEvent(e: RuntimeEvent): void {
    const s = this.pods.get(e.podUid);
    if (!s) {
      this.o.logger.debug({ uid: e.podUid, reason: e.reason }, 'event for a pod no longer tracked');
      return;
    }
    this.o.events.record(s.pod, e.type, e.reason, e.message, e.fieldPath);
  }

  // ------------------------------------------------------------ stopping pods

  private forget(uid: string): void {
    const s = this.pods.get(uid);
    if (s) clearTimeout(s.configTimer);
    this.pods.delete(uid);
    this.statusWriter.forget(uid);
    this.gone.add(uid);
    if (this.gone.size > MAX_GONE_UIDS) this.gone.delete(this.gone.values().next().value as string);
  }

  /** Kill the pod's processes (once: a second call joins the first). */
  private kill(uid: string, graceSeconds: number, why: string, pod?: Pod): Promise<void> {
    const running = this.killing.get(uid);
    if (running) return running;
    this.o.logger.info({ uid, pod: pod ? podRef(pod) : undefined, graceSeconds, why }, 'killing pod');
    const done = this.o.runtime
      .killPod(uid, graceSeconds)
      .catch((err) => this.o.logger.error({ uid, err: errorMessage(err) }, 'killing pod failed'))
      .finally(() => this.killing.delete(uid));
    this.killing.set(uid, done);
    return done;
  }

  private terminate(s: PodState): void {
    if (s.terminating) return;
    s.terminating = true;
    clearTimeout(s.configTimer);
    void this.killThenDelete(s);
  }

  private async killThenDelete(s: PodState): Promise<void> {
    const uid = s.pod.metadata.uid ?? '';
    if (this.o.runtime.knownPods().includes(uid)) await this.kill(uid, gracePeriodOf(s.pod), 'deletion requested', s.pod);
    const backoff = new Backoff({ initialMs: this.o.retryInitialMs ?? 200, maxMs: this.o.retryMaxMs ?? 5_000, random: Math.random });
    for (let attempt = 1; !this.stopped; attempt++) {
      const { namespace, name } = s.pod.metadata;
      try {
        await this.o.resources.delete('Pod', namespace, name ?? '', { gracePeriodSeconds: 0, preconditions: { uid } });
        this.o.logger.info({ pod: podRef(s.pod) }, 'pod terminated and deleted');
        break;
      } catch (err) {
        // NotFound: already gone; Conflict on the uid precondition: a new pod has the name now.
        if (isApiError(err, 'NotFound') || isApiError(err, 'Conflict')) break;
        if (attempt === 1 || !isTransient(err)) this.o.logger.warn({ pod: podRef(s.pod), attempt, err: errorMessage(err) }, 'deleting terminated pod failed, will retry');
        await sleep(backoff.next(), this.abort.signal);
      }
    }
    if (this.pods.get(uid) === s) this.forget(uid);
  }
}
