/**
 * The contract between the agent's pod sync loop (packages/agent/src/*.ts) and the
 * process runtime (packages/agent/src/runtime/**). The sync loop knows the API
 * (watches pods, reports status, records events, resolves configmap/secret refs);
 * the runtime knows processes (spawn, ports, logs, probes, restarts, termination,
 * adoption after an agent restart). Neither imports the other's internals.
 */
import type { ContainerStatus, Pod, PodCondition, PodPhase } from '@bramble/api';

/** What the runtime needs to start a pod: the pod as the API has it, plus env values the agent resolved. */
export interface PodSpecToRun {
  pod: Pod;
  /**
   * Per container name, the environment the agent resolved from `env`/`envFrom`
   * (configMapKeyRef, secretKeyRef, fieldRef such as metadata.name or status.podIP),
   * before `$(VAR)` expansion and before PORT / PORT_<NAME> / POD_IP are added by the runtime.
   */
  resolvedEnv: Record<string, Array<{ name: string; value: string }>>;
  /**
   * Per configMap/secret volume name, the files the agent projected from the object
   * (keys or `items`, with their modes). The runtime writes them (atomically) under the
   * pod's volume directory before any container starts, and rewrites them when a later
   * syncPod brings other contents. emptyDir volumes come from the pod spec alone.
   */
  volumeFiles?: Record<string, VolumeFile[]>;
}

/** One file of a configMap/secret volume. */
export interface VolumeFile {
  /** Relative to the volume: a key, or `items[].path` (may contain `/`). */
  path: string;
  mode: number;
  contentBase64: string;
}

/** Something worth an Event, from the runtime's point of view (the agent records it against the pod). */
export interface RuntimeEvent {
  podUid: string;
  type: 'Normal' | 'Warning';
  /** Created, Started, Killing, BackOff, Unhealthy, Failed, ... */
  reason: string;
  message: string;
  /** e.g. `spec.containers{web}`. */
  fieldPath?: string;
}

/** The runtime's view of one pod: what the agent writes into pod.status (it adds PodScheduled and times). */
export interface PodRuntimeStatus {
  uid: string;
  phase: PodPhase;
  /** Initialized, ContainersReady, Ready (lastTransitionTime kept stable across calls while unchanged). */
  conditions: PodCondition[];
  containerStatuses: ContainerStatus[];
  /** RFC 3339: when the runtime first accepted the pod. */
  startTime: string;
  /** Every container has ended and the restart policy will not restart any (Succeeded/Failed). */
  finished: boolean;
}

export interface ContainerUsage {
  name: string;
  memoryBytes: number;
  cpuMillicores: number;
}

export interface PodUsage {
  uid: string;
  namespace: string;
  name: string;
  containers: ContainerUsage[];
}

export interface LogOptions {
  container?: string;
  follow?: boolean;
  tailLines?: number;
  previous?: boolean;
}

export interface PodRuntime {
  /**
   * Re-attach to processes left running by an earlier agent process (state in the data dir):
   * processes still alive (same pid and process start time) are adopted; the rest are forgotten.
   * Returns the uids of the pods it knows. Call once before the first `syncPod`.
   */
  recover(): Promise<string[]>;
  /**
   * Make the pod's processes match its spec: start what is not running, keep restarting per
   * restartPolicy with crash back-off, run probes. Idempotent: calling it again with the same pod
   * (or a newer version of it) never duplicates a process. Pods are keyed by metadata.uid.
   */
  syncPod(spec: PodSpecToRun): void;
  /**
   * Stop every container of the pod: SIGTERM to each process group, SIGKILL to the group after
   * `gracePeriodSeconds`. Resolves once every process of the pod is gone; then the pod is forgotten.
   */
  killPod(uid: string, gracePeriodSeconds: number): Promise<void>;
  /** Uids of every pod the runtime is running or still holds. */
  knownPods(): string[];
  status(uid: string): PodRuntimeStatus | undefined;
  /** Called (coalesced, at most every few ms) whenever a pod's runtime status changed. */
  onStatusChange(listener: (uid: string) => void): void;
  onEvent(listener: (event: RuntimeEvent) => void): void;
  /** Real usage: RSS summed over each container's process group, CPU from /proc utime+stime deltas. */
  usage(): PodUsage[];
  /** A container's log: the current instance, or the previous one with `previous`. Ends when not following. */
  logs(uid: string, options: LogOptions, onData: (chunk: Buffer) => void, signal: AbortSignal): Promise<void>;
  /** Stop probes and timers; leaves processes running (an agent that exits keeps its pods, like a kubelet). */
  close(): Promise<void>;
}
