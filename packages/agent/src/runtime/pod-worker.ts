/** One pod on this node: its host ports, its containers and the status they add up to. */
import type { Container, ContainerPortStatus, ContainerStatus, RestartPolicy } from '@bramble/api';
import { DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS } from '@bramble/api';
import { ContainerRunner, type ContainerOwner } from './container.js';
import type { HostPortAllocator } from './host-ports.js';
import { containerLogDir, podLogDir } from './log-files.js';
import type { ResolvedRuntimeOptions } from './options.js';
import { ConditionClock, isFinished, podConditions, podPhase } from './pod-status.js';
import type { PodRecordState } from './state-store.js';
import type { PodRuntimeStatus, PodSpecToRun, RuntimeEvent } from './types.js';
import { linkMounts, mountEnv } from './volume-mounts.js';
import { syncPodVolumes } from './volumes.js';

const VOLUME_RETRY_BASE_MS = 500;
const VOLUME_RETRY_MAX_MS = 10_000;

/** What a pod needs from the runtime. */
export interface RuntimeHost {
  readonly opts: ResolvedRuntimeOptions;
  readonly hostPorts: HostPortAllocator;
  emit(event: RuntimeEvent): void;
  /** The pod's status (or what is persisted about it) changed. */
  changed(uid: string): void;
}

export class PodWorker implements ContainerOwner {
  private spec: PodSpecToRun | undefined;
  private recordedPolicy: RestartPolicy | undefined;
  readonly runners = new Map<string, ContainerRunner>();
  private preparing: Promise<void> | undefined;
  private prepareError: string | undefined;
  /** Writing the pod's volumes failed: containers that never started wait for it. */
  private volumeError: string | undefined;
  private volumeRetryMs = 0;
  private volumeRetryTimer: NodeJS.Timeout | undefined;
  private terminating = false;
  private closed = false;
  private readonly conditionClock = new ConditionClock();
  readonly podDir: string;
  killing: Promise<void> | undefined;

  constructor(
    private readonly host: RuntimeHost,
    readonly uid: string,
    readonly namespace: string,
    readonly name: string,
    readonly startTime: string,
  ) {
    this.podDir = podLogDir(host.opts.dataDir, namespace, name, uid);
  }

  get opts(): ResolvedRuntimeOptions {
    return this.host.opts;
  }

  static fromState(host: RuntimeHost, rec: PodRecordState): PodWorker {
    const w = new PodWorker(host, rec.uid, rec.namespace, rec.name, rec.startTime);
    w.recordedPolicy = rec.restartPolicy;
    for (const c of rec.containers) {
      host.hostPorts.reserve(c.ports.map((p) => p.hostPort));
      w.runners.set(c.name, ContainerRunner.fromState(w, c));
    }
    return w;
  }

  get isTerminating(): boolean {
    return this.terminating;
  }

  sync(spec: PodSpecToRun): void {
    if (this.terminating || this.closed) return;
    this.spec = spec;
    this.recordedPolicy = spec.pod.spec.restartPolicy ?? 'Always';
    if (!this.syncVolumes(spec) && this.runners.size === 0) return;
    if (this.preparing) return; // reconciles with the latest spec when the ports are in
    const missing = spec.pod.spec.containers.filter((c) => !this.runners.has(c.name));
    if (missing.length === 0) {
      this.reconcile();
      return;
    }
    this.preparing = this.createRunners(missing).then(
      () => {
        this.preparing = undefined;
        this.prepareError = undefined;
        if (!this.terminating && !this.closed) this.reconcile();
      },
      (err: Error) => {
        this.preparing = undefined;
        this.prepareError = err.message;
        this.host.opts.logger.error({ pod: `${this.namespace}/${this.name}`, err: err.message }, 'cannot assign host ports');
        this.host.emit({ podUid: this.uid, type: 'Warning', reason: 'FailedCreatePodSandBox', message: `cannot assign host ports: ${err.message}` });
        this.host.changed(this.uid);
      },
    );
  }

  /**
   * Volumes are on disk before any container starts, and follow new configMap/secret
   * contents (an update that fails leaves running containers with the last good files).
   */
  private syncVolumes(spec: PodSpecToRun): boolean {
    const volumes = spec.pod.spec.volumes ?? [];
    if (volumes.length === 0) return true;
    const ref = `${this.namespace}/${this.name}`;
    try {
      const changed = syncPodVolumes(this.host.opts.dataDir, this.uid, volumes, spec.volumeFiles);
      if (changed.length > 0) this.host.opts.logger.info({ pod: ref, volumes: changed }, 'volumes written');
      if (this.volumeError !== undefined) this.host.changed(this.uid);
      this.volumeError = undefined;
      this.volumeRetryMs = 0;
      return true;
    } catch (err) {
      const message = `MountVolume.SetUp failed: ${(err as Error).message}`;
      if (message !== this.volumeError) {
        this.host.opts.logger.error({ pod: ref, err: message }, 'cannot write volumes');
        this.host.emit({ podUid: this.uid, type: 'Warning', reason: 'FailedMount', message });
      }
      this.volumeError = message;
      this.volumeRetryMs = Math.min(this.volumeRetryMs === 0 ? VOLUME_RETRY_BASE_MS : this.volumeRetryMs * 2, VOLUME_RETRY_MAX_MS);
      if (!this.volumeRetryTimer) {
        this.volumeRetryTimer = setTimeout(() => {
          this.volumeRetryTimer = undefined;
          if (this.spec && !this.terminating && !this.closed) this.sync(this.spec);
        }, this.volumeRetryMs);
        this.volumeRetryTimer.unref();
      }
      this.host.changed(this.uid);
      return false;
    }
  }

  /** Host ports for each declared port (kept for the pod's lifetime), then a runner per container. */
  private async createRunners(containers: Container[]): Promise<void> {
    const allocated: number[] = [];
    const plans: Array<{ name: string; ports: ContainerPortStatus[] }> = [];
    try {
      for (const c of containers) {
        const ports: ContainerPortStatus[] = [];
        for (const p of c.ports ?? []) {
          const hostPort = await this.host.hostPorts.allocate();
          allocated.push(hostPort);
          ports.push({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, hostPort, protocol: p.protocol ?? 'TCP' });
        }
        plans.push({ name: c.name, ports });
      }
    } catch (err) {
      this.host.hostPorts.release(allocated);
      throw err;
    }
    if (this.terminating || this.closed) {
      this.host.hostPorts.release(allocated);
      return;
    }
    for (const p of plans) this.runners.set(p.name, new ContainerRunner(this, p.name, p.ports));
  }

  private reconcile(): void {
    if (!this.spec) return;
    for (const c of this.spec.pod.spec.containers) this.runners.get(c.name)?.ensure();
    this.host.changed(this.uid);
  }

  // ContainerOwner

  restartPolicy(): RestartPolicy | undefined {
    return this.recordedPolicy;
  }

  launchInput(container: string): { container: Container; resolvedEnv: Array<{ name: string; value: string }> } | undefined {
    const c = this.spec?.pod.spec.containers.find((x) => x.name === container);
    if (!c || !this.spec) return undefined;
    // VOLUME_<NAME> first: the container's own env may refer to it as $(VOLUME_<NAME>).
    const volumeEnv = mountEnv(c, this.host.opts.dataDir, this.uid);
    return { container: c, resolvedEnv: [...volumeEnv, ...(this.spec.resolvedEnv[container] ?? [])] };
  }

  beforeStart(container: Container, cwd: string): void {
    linkMounts(container, cwd, this.host.opts.dataDir, this.uid);
  }

  gracePeriodMs(): number {
    return (this.spec?.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS) * 1000;
  }

  containerLogDir(container: string): string {
    return containerLogDir(this.podDir, container);
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string, container: string): void {
    this.host.emit({ podUid: this.uid, type, reason, message, fieldPath: `spec.containers{${container}}` });
  }

  changed(): void {
    this.host.changed(this.uid);
  }

  // Lifecycle

  /** Stops every container; resolves when all their process groups are empty. */
  async kill(graceMs: number): Promise<void> {
    this.terminating = true;
    clearTimeout(this.volumeRetryTimer);
    if (this.preparing) await this.preparing.catch(() => undefined);
    await Promise.all([...this.runners.values()].map((r) => r.stop(graceMs)));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.volumeRetryTimer);
    for (const r of this.runners.values()) r.close();
  }

  hostPortList(): number[] {
    return [...this.runners.values()].flatMap((r) => r.ports.map((p) => p.hostPort));
  }

  containerNames(): string[] {
    const names = this.spec ? this.spec.pod.spec.containers.map((c) => c.name) : [];
    for (const n of this.runners.keys()) if (!names.includes(n)) names.push(n);
    return names;
  }

  status(): PodRuntimeStatus {
    const statuses: ContainerStatus[] = [];
    for (const name of this.containerNames()) {
      const image = this.spec?.pod.spec.containers.find((c) => c.name === name)?.image;
      const runner = this.runners.get(name);
      if (runner) statuses.push(runner.status(image));
      else {
        const message = this.volumeError ?? (this.prepareError ? `cannot assign host ports: ${this.prepareError}` : undefined);
        const waiting = message ? { reason: 'ContainerCreating', message } : { reason: 'ContainerCreating' };
        statuses.push({ name, ready: false, started: false, restartCount: 0, state: { waiting }, ...(image !== undefined ? { image } : {}) });
      }
    }
    const phase = podPhase(statuses, (n) => this.runners.get(n)?.willRestart() ?? false);
    const nowIso = new Date(this.host.opts.now()).toISOString();
    return {
      uid: this.uid,
      phase,
      conditions: podConditions(statuses, phase, this.conditionClock, nowIso),
      containerStatuses: statuses,
      startTime: this.startTime,
      finished: isFinished(phase),
    };
  }

  toState(): PodRecordState {
    const rec: PodRecordState = {
      uid: this.uid,
      namespace: this.namespace,
      name: this.name,
      startTime: this.startTime,
      containers: [...this.runners.values()].map((r) => r.toState()),
    };
    if (this.recordedPolicy) rec.restartPolicy = this.recordedPolicy;
    return rec;
  }
}
