// Pure decisions of the proxy: which node ports to listen on for which service port, and which
// endpoints back a service port. No sockets here.
import type { Endpoints, Service, ServicePort } from '@bramble/api';
import { objectKey } from './service-cache.js';

/** One service port, the unit of balancing (its ClusterIP port and nodePort share it). */
export interface ServicePortRef {
  /** `namespace/name:portName` ('' for an unnamed port). */
  key: string;
  /** `namespace/name`. */
  service: string;
  namespace: string;
  name: string;
  uid?: string;
  portName: string;
  port: number;
}

export interface ListenTarget extends ServicePortRef {
  /** Why this node port is listened on: the service's `port` or its `nodePort`. */
  via: 'port' | 'nodePort';
}

export interface ListenPlan {
  /** Node port -> what it serves. */
  listeners: Map<number, ListenTarget>;
  /** Ports claimed by more than one service (the oldest service keeps it), for logging. */
  conflicts: string[];
}

export interface Backend {
  host: string;
  port: number;
  /** `host:port`. */
  key: string;
}

/** Services the proxy serves: ClusterIP (the default) and NodePort, not headless ones. */
export function isProxied(service: Service): boolean {
  const type = service.spec?.type ?? 'ClusterIP';
  return (type === 'ClusterIP' || type === 'NodePort') && service.spec?.clusterIP !== 'None';
}

function isTcp(port: ServicePort): boolean {
  return (port.protocol ?? 'TCP') === 'TCP';
}

function validPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function refOf(service: Service, port: ServicePort): ServicePortRef {
  const svc = objectKey(service);
  const portName = port.name ?? '';
  return {
    key: `${svc}:${portName}`,
    service: svc,
    namespace: service.metadata.namespace ?? 'default',
    name: service.metadata.name ?? '',
    uid: service.metadata.uid,
    portName,
    port: port.port,
  };
}

function olderFirst(a: Service, b: Service): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return objectKey(a) < objectKey(b) ? -1 : objectKey(a) > objectKey(b) ? 1 : 0;
}

/**
 * Every TCP port of every proxied service, plus nodePorts of NodePort services. The masters
 * reserve ports cluster-wide, so two claims on one port only happen while this agent's view
 * lags; the oldest service keeps the port then.
 */
export function listenPlan(services: Service[]): ListenPlan {
  const listeners = new Map<number, ListenTarget>();
  const conflicts: string[] = [];
  const claim = (nodePort: number, target: ListenTarget): void => {
    const held = listeners.get(nodePort);
    if (held) {
      if (held.key !== target.key) conflicts.push(`port ${nodePort}: ${held.service} keeps it, ${target.service} also claims it`);
      return;
    }
    listeners.set(nodePort, target);
  };
  for (const service of [...services].filter(isProxied).sort(olderFirst)) {
    const nodePorts = service.spec.type === 'NodePort';
    for (const port of service.spec.ports ?? []) {
      if (!isTcp(port) || !validPort(port.port)) continue;
      const ref = refOf(service, port);
      claim(port.port, { ...ref, via: 'port' });
      if (nodePorts && validPort(port.nodePort)) claim(port.nodePort, { ...ref, via: 'nodePort' });
    }
  }
  return { listeners, conflicts };
}

/**
 * The ready endpoints of one service port: every `addresses[]` entry of every subset, at the
 * subset's port whose name is the service port's name (as Kubernetes matches them). A subset
 * with a single port also serves an unnamed service port (Endpoints written by hand).
 */
export function backendsFor(ref: Pick<ServicePortRef, 'portName'>, endpoints: Endpoints | undefined): Backend[] {
  const out: Backend[] = [];
  const seen = new Set<string>();
  for (const subset of endpoints?.subsets ?? []) {
    const ports = (subset.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
    let port = ports.find((p) => (p.name ?? '') === ref.portName);
    if (!port && ref.portName === '' && ports.length === 1) port = ports[0];
    if (!port || !validPort(port.port)) continue;
    for (const address of subset.addresses ?? []) {
      if (!address.ip) continue;
      const key = `${address.ip}:${port.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ host: address.ip, port: port.port, key });
    }
  }
  return out;
}
