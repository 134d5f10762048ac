/** Cluster kinds: Namespace, Node (v1), Event (v1), Lease (coordination.k8s.io/v1). */
import type { ConditionStatus, ObjectMeta, ObjectReference, Quantity, Time } from './meta.js';
import type { TaintEffect } from './pod.js';

export interface Namespace {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: { finalizers?: string[] };
  status?: { phase?: 'Active' | 'Terminating' };
}

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: Time;
}

export interface NodeSpec {
  /** Cordoned: the scheduler places no new pods here. */
  unschedulable?: boolean;
  taints?: Taint[];
}

/** `cpu` in cores, `memory` in bytes, `pods` a count. */
export interface NodeResourceList {
  cpu?: Quantity;
  memory?: Quantity;
  pods?: Quantity;
}

export interface NodeCondition {
  type: 'Ready' | 'MemoryPressure' | 'DiskPressure' | 'PIDPressure' | string;
  status: ConditionStatus;
  lastHeartbeatTime?: Time;
  lastTransitionTime?: Time;
  reason?: string;
  message?: string;
}

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname';
  address: string;
}

export interface NodeSystemInfo {
  machineID?: string;
  bootID?: string;
  kernelVersion?: string;
  osImage?: string;
  /** e.g. `process://node-v20.11.1`. */
  containerRuntimeVersion?: string;
  /** The agent's version (shown as VERSION, like the kubelet's). */
  kubeletVersion?: string;
  operatingSystem?: string;
  architecture?: string;
}

/** Where the node's agent serves (the CLI's `logs` and `top` dial the Kubelet port on the node's address). */
export interface NodeDaemonEndpoints {
  kubeletEndpoint?: { Port: number };
}

export interface NodeStatus {
  /** Defaults to a Raspberry Pi 4: cpu "4", memory "4Gi", pods "110". */
  capacity?: NodeResourceList;
  /** What pods may use; defaults to `capacity`. */
  allocatable?: NodeResourceList;
  conditions?: NodeCondition[];
  addresses?: NodeAddress[];
  nodeInfo?: NodeSystemInfo;
  daemonEndpoints?: NodeDaemonEndpoints;
}

export interface Node {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec?: NodeSpec;
  status?: NodeStatus;
}

export interface EventSource {
  component?: string;
  host?: string;
}

export interface Event {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  /** Short CamelCase machine-readable cause, e.g. `FailedScheduling`. */
  reason?: string;
  message?: string;
  source?: EventSource;
  firstTimestamp?: Time;
  lastTimestamp?: Time;
  count?: number;
  type?: 'Normal' | 'Warning';
  eventTime?: Time;
  action?: string;
  reportingComponent?: string;
  reportingInstance?: string;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Time;
  renewTime?: Time;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: ObjectMeta;
  spec?: LeaseSpec;
}
