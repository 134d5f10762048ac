/**
 * Pods. Bramble runs each container as a child process on the node
 * (`command`, `args`, `env`, `workingDir`), so `image` is informational and
 * `command` is required.
 */
import type { ConditionStatus, IntOrString, ObjectMeta, PodTemplateMeta, Quantity, Time } from './meta.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type Protocol = 'TCP';
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** `cpu` in cores ("500m", "0.5", "2"); `memory` in bytes ("128Mi", "1Gi", "1G"). */
export interface ResourceList {
  cpu?: Quantity;
  memory?: Quantity;
}

export interface ResourceRequirements {
  /** What the scheduler reserves on the node. Defaults to `limits` per resource. */
  requests?: ResourceList;
  limits?: ResourceList;
}

export interface ContainerPort {
  /** IANA service name (at most 15 characters); the process gets `PORT_<NAME>`. */
  name?: string;
  /** The port the container declares; the agent maps it to a free host port handed in as `PORT`. */
  containerPort: number;
  protocol?: Protocol;
}

export interface ConfigMapKeySelector {
  name: string;
  key: string;
  optional?: boolean;
}

export interface SecretKeySelector {
  name: string;
  key: string;
  optional?: boolean;
}

/** Downward API: one of `PodFieldPaths`. */
export interface ObjectFieldSelector {
  apiVersion?: string;
  fieldPath: string;
}

export const POD_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'status.hostIP',
  'status.podIP',
] as const;

export interface EnvVarSource {
  configMapKeyRef?: ConfigMapKeySelector;
  secretKeyRef?: SecretKeySelector;
  fieldRef?: ObjectFieldSelector;
}

export interface EnvVar {
  name: string;
  /** May reference earlier variables as `$(VAR)`; `$$(VAR)` escapes. */
  value?: string;
  valueFrom?: EnvVarSource;
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface ExecAction {
  command: string[];
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPGetAction {
  path?: string;
  /** A declared container port number or name. */
  port: IntOrString;
  scheme?: 'HTTP' | 'HTTPS';
  httpHeaders?: HTTPHeader[];
}

export interface TCPSocketAction {
  port: IntOrString;
}

/** Exactly one handler: `exec`, `httpGet` or `tcpSocket`. */
export interface Probe {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Container {
  name: string;
  /** Informational only: Bramble does not pull or run images. */
  image?: string;
  /** Informational only, like `image`. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The program and its leading arguments. Required: there is no image entrypoint to fall back on. */
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: ContainerPort[];
  resources?: ResourceRequirements;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: VolumeMount[];
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface ConfigMapVolumeSource {
  name: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface SecretVolumeSource {
  secretName: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface EmptyDirVolumeSource {
  sizeLimit?: Quantity;
}

/** Exactly one source: `configMap`, `secret` or `emptyDir`. */
export interface Volume {
  name: string;
  configMap?: ConfigMapVolumeSource;
  secret?: SecretVolumeSource;
  emptyDir?: EmptyDirVolumeSource;
}

export interface Toleration {
  /** Empty with operator Exists tolerates every taint. */
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: TaintEffect;
  /** Only with effect NoExecute: how long the pod stays bound after the taint appears. */
  tolerationSeconds?: number;
}

export interface PodSpec {
  containers: Container[];
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
  /** Set by the scheduler (or by hand to bypass it); may not change once set. */
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  volumes?: Volume[];
}

export interface PodCondition {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready' | string;
  status: ConditionStatus;
  lastProbeTime?: Time;
  lastTransitionTime?: Time;
  reason?: string;
  message?: string;
}

export interface ContainerStateWaiting {
  reason?: string;
  message?: string;
}

export interface ContainerStateRunning {
  startedAt?: Time;
}

export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: Time;
  finishedAt?: Time;
}

/** At most one of the three is set. */
export interface ContainerState {
  waiting?: ContainerStateWaiting;
  running?: ContainerStateRunning;
  terminated?: ContainerStateTerminated;
}

/** Bramble extension: where a declared container port is reachable (`nodeAddress:hostPort`). */
export interface ContainerPortStatus {
  name?: string;
  containerPort: number;
  hostPort: number;
  protocol?: Protocol;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: ContainerState;
  lastState?: ContainerState;
  image?: string;
  /** e.g. `process://12345` (the child process id on the node). */
  containerID?: string;
  /** Bramble extension: the host ports the agent assigned to the declared ports. */
  ports?: ContainerPortStatus[];
}

export interface PodStatus {
  phase?: PodPhase;
  conditions?: PodCondition[];
  message?: string;
  reason?: string;
  /** The node's address. */
  hostIP?: string;
  /** The address the pod's processes bind (the node's address in Bramble). */
  podIP?: string;
  startTime?: Time;
  containerStatuses?: ContainerStatus[];
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}

export interface PodTemplateSpec {
  metadata?: PodTemplateMeta;
  spec: PodSpec;
}
