export type * from './meta.js';
export type * from './pod.js';
export type * from './workloads.js';
export type * from './service.js';
export type * from './config.js';
export type * from './cluster.js';
export { POD_FIELD_PATHS } from './pod.js';

import type { ConfigMap, Secret } from './config.js';
import type { Event, Lease, Namespace, Node } from './cluster.js';
import type { Pod } from './pod.js';
import type { Endpoints, Service } from './service.js';
import type { DaemonSet, Deployment, ReplicaSet } from './workloads.js';

/** Every kind, by name. */
export interface ResourceKinds {
  Namespace: Namespace;
  Node: Node;
  Pod: Pod;
  ReplicaSet: ReplicaSet;
  Deployment: Deployment;
  DaemonSet: DaemonSet;
  Service: Service;
  Endpoints: Endpoints;
  ConfigMap: ConfigMap;
  Secret: Secret;
  Event: Event;
  Lease: Lease;
}

export type KindName = keyof ResourceKinds;

/** Any object Bramble stores. Narrow on `kind`. */
export type Resource = ResourceKinds[KindName];
