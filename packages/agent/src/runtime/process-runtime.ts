/**
 * The default runtime: each container is a process on this machine. See types.ts for the
 * contract with the agent's sync loop and options.ts for the settings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HostPortAllocator } from './host-ports.js';
import { CURRENT_LOG, PREVIOUS_LOG, removeLogDir, rotateIfLarge } from './log-files.js';
import { readLog } from './log-reader.js';
import { resolveOptions, type ProcessRuntimeOptions, type ResolvedRuntimeOptions } from './options.js';
import { PodWorker, type RuntimeHost } from './pod-worker.js';
import { clockTicksPerSecond, processGroups, rssBytes } from './procfs.js';
import { loadState, StateWriter } from './state-store.js';
import { removeMountLinks } from './volume-mounts.js';
import { removePodVolumes } from './volumes.js';
import type { ContainerUsage, LogOptions, PodRuntime, PodRuntimeStatus, PodSpecToRun, PodUsage, RuntimeEvent } from './types.js';

interface CpuSample {
  ticks: number;
  atMs: number;
  /** The rate computed when this sample was taken. */
  millicores: number;
}

/** Clock ticks are 10 ms: CPU rates over shorter windows are mostly quantization noise. */
const MIN_CPU_WINDOW_MS = 1_000;

export class ProcessRuntime implements PodRuntime, RuntimeHost {
  readonly opts: ResolvedRuntimeOptions;
  readonly hostPorts: HostPortAllocator;
  private readonly pods = new Map<string, PodWorker>();
  private readonly statusListeners: Array<(uid: string) => void> = [];
  private readonly eventListeners: Array<(event: RuntimeEvent) => void> = [];
  private readonly pendingNotify = new Set<string>();
  private notifyTimer: NodeJS.Timeout | undefined;
  private readonly stateWriter: StateWriter;
  private readonly rotateTimer: NodeJS.Timeout;
  /** Per `uid/container/pgid`: the last CPU reading, for usage deltas. */
  private readonly cpuSamples = new Map<string, CpuSample>();
  private recovered = false;
  private closed = false;

  constructor(options: ProcessRuntimeOptions) {
    this.opts = resolveOptions(options);
    this.hostPorts = new HostPortAllocator(this.opts.nodeAddress);
    this.stateWriter = new StateWriter(
      this.opts.dataDir,
      () => [...this.pods.values()].map((p) => p.toState()),
      (err) => this.opts.logger.error({ err: err.message }, 'cannot write the runtime state file'),
    );
    this.rotateTimer = setInterval(() => this.rotateLogs(), this.opts.logCheckIntervalMs);
    this.rotateTimer.unref();
  }

  async recover(): Promise<string[]> {
    this.assertOpen('recover');
    if (this.recovered) throw new Error('ProcessRuntime.recover() was already called');
    this.recovered = true;
    const records = await loadState(this.opts.dataDir);
    for (const rec of records) {
      if (this.pods.has(rec.uid)) continue;
      const pod = PodWorker.fromState(this, rec);
      this.pods.set(rec.uid, pod);
      const adopted = [...pod.runners.values()].filter((r) => r.adopted).map((r) => `${r.name}:${r.pgid}`);
      this.opts.logger.info({ pod: `${rec.namespace}/${rec.name}`, uid: rec.uid, adopted }, 'recovered pod');
    }
    this.stateWriter.request();
    return [...this.pods.keys()];
  }

  syncPod(spec: PodSpecToRun): void {
    this.assertOpen('syncPod');
    const meta = spec.pod.metadata;
    if (!meta.uid || !meta.name) throw new Error('syncPod: pod.metadata.uid and metadata.name are required');
    if (!Array.isArray(spec.pod.spec?.containers) || spec.pod.spec.containers.length === 0) {
      throw new Error(`syncPod: pod ${meta.namespace ?? 'default'}/${meta.name}: spec.containers must not be empty`);
    }
    let pod = this.pods.get(meta.uid);
    if (!pod) {
      pod = new PodWorker(this, meta.uid, meta.namespace ?? 'default', meta.name, new Date(this.opts.now()).toISOString());
      this.pods.set(meta.uid, pod);
    }
    pod.sync(spec);
  }

  killPod(uid: string, gracePeriodSeconds: number): Promise<void> {
    const pod = this.pods.get(uid);
    if (!pod) return Promise.resolve();
    if (!Number.isFinite(gracePeriodSeconds) || gracePeriodSeconds < 0) {
      return Promise.reject(new Error(`killPod: gracePeriodSeconds must be a number >= 0 (got ${gracePeriodSeconds})`));
    }
    if (!pod.killing) {
      this.opts.logger.info({ pod: `${pod.namespace}/${pod.name}`, uid, gracePeriodSeconds }, 'killing pod');
      pod.killing = pod.kill(gracePeriodSeconds * 1000).then(() => this.forget(pod));
    }
    return pod.killing;
  }

  private forget(pod: PodWorker): void {
    if (this.pods.get(pod.uid) !== pod) return;
    pod.close();
    this.pods.delete(pod.uid);
    this.hostPorts.release(pod.hostPortList());
    for (const key of this.cpuSamples.keys()) if (key.startsWith(`${pod.uid}/`)) this.cpuSamples.delete(key);
    this.pendingNotify.delete(pod.uid);
    try {
      removeLogDir(pod.podDir);
    } catch (err) {
      this.opts.logger.warn({ dir: pod.podDir, err: (err as Error).message }, 'cannot remove pod log directory');
    }
    try {
      removeMountLinks(this.opts.dataDir, pod.uid);
      removePodVolumes(this.opts.dataDir, pod.uid);
    } catch (err) {
      this.opts.logger.warn({ uid: pod.uid, err: (err as Error).message }, 'cannot remove pod volumes');
    }
    if (!this.closed) this.stateWriter.request();
  }

  knownPods(): string[] {
    return [...this.pods.keys()];
  }

  status(uid: string): PodRuntimeStatus | undefined {
    return this.pods.get(uid)?.status();
  }

  onStatusChange(listener: (uid: string) => void): void {
    this.statusListeners.push(listener);
  }

  onEvent(listener: (event: RuntimeEvent) => void): void {
    this.eventListeners.push(listener);
  }

  // RuntimeHost

  emit(event: RuntimeEvent): void {
    if (this.closed) return;
    for (const l of this.eventListeners) {
      try {
        l(event);
      } catch (err) {
        this.opts.logger.error({ err: (err as Error).message }, 'runtime event listener threw');
      }
    }
  }

  changed(uid: string): void {
    if (this.closed) return;
    this.stateWriter.request();
    this.pendingNotify.add(uid);
    if (!this.notifyTimer) this.notifyTimer = setTimeout(() => this.flushNotify(), this.opts.statusCoalesceMs);
  }

  private flushNotify(): void {
    this.notifyTimer = undefined;
    const uids = [...this.pendingNotify];
    this.pendingNotify.clear();
    for (const uid of uids) {
      for (const l of this.statusListeners) {
        try {
          l(uid);
        } catch (err) {
          this.opts.logger.error({ err: (err as Error).message }, 'runtime status listener threw');
        }
      }
    }
  }

  usage(): PodUsage[] {
    const groups = processGroups();
    const ticksPerSecond = clockTicksPerSecond();
    const nowMs = performance.now();
    const out: PodUsage[] = [];
    for (const pod of this.pods.values()) {
      const containers: ContainerUsage[] = [];
      for (const r of pod.runners.values()) {
        const pgid = r.pgid;
        const members = pgid !== undefined ? groups.get(pgid) ?? [] : [];
        let memoryBytes = 0;
        let ticks = 0;
        for (const m of members) {
          memoryBytes += rssBytes(m.pid);
          ticks += m.cpuTicks;
        }
        let cpuMillicores = 0;
        if (pgid !== undefined) {
          const key = `${pod.uid}/${r.name}/${pgid}`;
          const prev = this.cpuSamples.get(key);
          if (prev && nowMs - prev.atMs < MIN_CPU_WINDOW_MS) {
            cpuMillicores = prev.millicores; // too soon for a new rate: keep the last one and its baseline
          } else {
            if (prev) {
              // Members that exit take their ticks along, so the sum can shrink: never negative.
              const cpuSeconds = Math.max(0, ticks - prev.ticks) / ticksPerSecond;
              cpuMillicores = Math.round((cpuSeconds / ((nowMs - prev.atMs) / 1000)) * 1000);
            }
            this.cpuSamples.set(key, { ticks, atMs: nowMs, millicores: cpuMillicores });
          }
        }
        containers.push({ name: r.name, memoryBytes, cpuMillicores });
      }
      out.push({ uid: pod.uid, namespace: pod.namespace, name: pod.name, containers });
    }
    return out;
  }

  async logs(uid: string, options: LogOptions, onData: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
    const pod = this.pods.get(uid);
    if (!pod) throw new Error(`pod ${uid} is not known to the runtime on this node`);
    const ref = `${pod.namespace}/${pod.name}`;
    const names = pod.containerNames();
    let container = options.container;
    if (!container) {
      if (names.length !== 1) throw new Error(`a container name must be specified for pod ${ref}, choose one of: [${names.join(' ')}]`);
      container = names[0];
    } else if (!names.includes(container)) {
      throw new Error(`container ${container} is not valid for pod ${ref}, choose one of: [${names.join(' ')}]`);
    }
    if (options.tailLines !== undefined && (!Number.isInteger(options.tailLines) || options.tailLines < 0)) {
      throw new Error(`tailLines must be an integer >= 0 (got ${options.tailLines})`);
    }
    const path = join(pod.containerLogDir(container), options.previous ? PREVIOUS_LOG : CURRENT_LOG);
    if (!existsSync(path)) {
      if (options.previous) throw new Error(`previous terminated container "${container}" in pod "${ref}" not found`);
      throw new Error(`container "${container}" in pod "${ref}" is waiting to start: no log yet`);
    }
    await readLog(path, { tailLines: options.tailLines, follow: options.follow && !options.previous }, onData, signal);
  }

  private rotateLogs(): void {
    for (const pod of this.pods.values()) {
      for (const name of pod.runners.keys()) {
        const dir = pod.containerLogDir(name);
        try {
          if (rotateIfLarge(dir, this.opts.logMaxBytes, this.opts.logMaxFiles)) this.opts.logger.debug({ pod: `${pod.namespace}/${pod.name}`, container: name }, 'rotated log');
        } catch (err) {
          this.opts.logger.warn({ dir, err: (err as Error).message }, 'log rotation failed');
        }
      }
    }
  }

  /** Runs the rotation check now (it also runs every logCheckIntervalMs). */
  checkLogRotation(): void {
    this.rotateLogs();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The last state write must include every pod as it is now.
    this.stateWriter.request();
    this.closed = true;
    clearInterval(this.rotateTimer);
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
    for (const pod of this.pods.values()) pod.close();
    await this.stateWriter.flush();
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new Error(`ProcessRuntime.${what}: the runtime is closed`);
  }
}
