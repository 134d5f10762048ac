/** Services and their Endpoints (v1). */
import type { IntOrString, ObjectMeta, ObjectReference } from './meta.js';
import type { Protocol } from './pod.js';

export type ServiceType = 'ClusterIP' | 'NodePort';

export interface ServicePort {
  /** DNS-1123 label; required when the Service has more than one port. */
  name?: string;
  protocol?: Protocol;
  /** The port the service proxy listens on, on every node's address. */
  port: number;
  /** A container port number or name; defaults to `port`. */
  targetPort?: IntOrString;
  /** Only for type NodePort: 30000-32767, allocated by the server when empty. */
  nodePort?: number;
}

export interface ServiceSpec {
  type?: ServiceType;
  /** Pods with these labels are the Service's endpoints. Without a selector, Endpoints are managed by hand. */
  selector?: Record<string, string>;
  ports: ServicePort[];
  /** Allocated by the server (or `None` for a headless Service); immutable once set. */
  clusterIP?: string;
  /** Only `None` (accepted because `get -o yaml` prints it): connections are balanced without affinity. */
  sessionAffinity?: 'None';
}

export interface ServiceStatus {
  loadBalancer?: Record<string, never>;
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: ServiceStatus;
}

export interface EndpointAddress {
  /** The node's address (pods bind their node's address in Bramble). */
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}

export interface EndpointPort {
  name?: string;
  /** The host port on `ip` (a pod's `status.containerStatuses[].ports[].hostPort`). */
  port: number;
  protocol?: Protocol;
}

/** Every address in a subset serves every port in it. */
export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export interface Endpoints {
  apiVersion: 'v1';
  kind: 'Endpoints';
  metadata: ObjectMeta;
  subsets?: EndpointSubset[];
}
