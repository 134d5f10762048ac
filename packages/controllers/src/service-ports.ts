/**
 * Service ports are cluster-wide: emulated nodes share one machine, so a Service's
 * "cluster IP" is a port that every node's proxy listens on. Each `spec.ports[i].port`
 * and each `nodePort` is reserved for exactly one Service, like an allocated
 * ClusterIP:port. The master stores one reservation key per port
 * (`/registry/serviceports/<port>`), written in the same txn as the Service; this file
 * holds the pure rules both the master's ResourceStore and MemoryClient apply:
 * which ports a Service holds, keeping allocated nodePorts across updates, allocating
 * missing ones, and what a write claims and releases.
 */
import { ApiError, deepClone, formatPath, formatValue, NODE_PORT_MAX, NODE_PORT_MIN, type FieldError, type PathSegment, type Service } from '@bramble/api';

export const SERVICE_PORTS_PREFIX = '/registry/serviceports/';

export function servicePortKey(port: number): string {
  return `${SERVICE_PORTS_PREFIX}${port}`;
}

/** The Service that holds a reserved port (stored as the reservation key's value). */
export interface PortOwner {
  namespace: string;
  name: string;
  uid: string;
}

/** One port a Service holds, and the field that asks for it. */
export interface PortClaim {
  port: number;
  path: PathSegment[];
}

export function portOwner(svc: Service): PortOwner {
  return { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '' };
}

export function sameOwner(a: PortOwner, b: PortOwner): boolean {
  return a.namespace === b.namespace && a.name === b.name && a.uid === b.uid;
}

export function encodePortOwner(owner: PortOwner): string {
  return JSON.stringify(owner);
}

/** The owner in a reservation key's value; undefined if it is not one (then nobody can claim it). */
export function decodePortOwner(value: string): PortOwner | undefined {
  try {
    const v = JSON.parse(value) as Partial<PortOwner>;
    if (typeof v.namespace === 'string' && typeof v.name === 'string' && typeof v.uid === 'string') return { namespace: v.namespace, name: v.name, uid: v.uid };
  } catch {
    // fall through
  }
  return undefined;
}

/** Every port the Service holds: each `port`, and each `nodePort` of a NodePort Service. */
export function servicePortClaims(svc: Service): PortClaim[] {
  const claims: PortClaim[] = [];
  (svc.spec?.ports ?? []).forEach((p, i) => {
    if (typeof p.port === 'number') claims.push({ port: p.port, path: ['spec', 'ports', i, 'port'] });
    if (typeof p.nodePort === 'number') claims.push({ port: p.nodePort, path: ['spec', 'ports', i, 'nodePort'] });
  });
  return claims;
}

function fieldError(path: PathSegment[], value: unknown, detail: string): FieldError {
  const field = formatPath(path);
  return { type: 'Invalid', field, path, value, detail, message: `${field}: Invalid value: ${formatValue(value)}: ${detail}` };
}

export function portAllocatedError(svc: Service, claim: PortClaim): ApiError {
  return ApiError.invalid('Service', svc.metadata.name, [fieldError(claim.path, claim.port, 'provided port is already allocated')]);
}

/**
 * Kubernetes keeps an allocated nodePort when an update leaves it unset (an apply or
 * a replace of a manifest that never named one): a copy of `next` with the nodePorts
 * of `stored`'s ports of the same port and protocol, when `next` is a NodePort Service.
 */
export function withAllocatedNodePorts(stored: Service, next: Service): Service {
  if ((next.spec?.type ?? 'ClusterIP') !== 'NodePort' || !Array.isArray(next.spec?.ports)) return next;
  const before = stored.spec?.ports ?? [];
  let copy: Service | undefined;
  next.spec.ports.forEach((p, i) => {
    if (p === null || typeof p !== 'object' || p.nodePort !== undefined) return;
    const old = before.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
    if (old?.nodePort === undefined) return;
    copy ??= deepClone(next);
    copy.spec.ports[i].nodePort = old.nodePort;
  });
  return copy ?? next;
}

/**
 * Gives every port of a NodePort Service without a nodePort a free one in
 * 30000-32767: a scan from a random start (`random` injected, so tests are
 * deterministic). `isFree` says whether the cluster has it free; ports the Service
 * itself claims are skipped. Changes `svc` in place.
 */
export function allocateNodePorts(svc: Service, isFree: (port: number) => boolean, random: () => number): void {
  if ((svc.spec?.type ?? 'ClusterIP') !== 'NodePort') return;
  const ports = svc.spec.ports ?? [];
  const mine = new Set(servicePortClaims(svc).map((c) => c.port));
  const size = NODE_PORT_MAX - NODE_PORT_MIN + 1;
  ports.forEach((p, i) => {
    if (p.nodePort !== undefined) return;
    const start = Math.floor(random() * size) % size;
    for (let n = 0; n < size; n++) {
      const candidate = NODE_PORT_MIN + ((start + n) % size);
      if (mine.has(candidate) || !isFree(candidate)) continue;
      p.nodePort = candidate;
      mine.add(candidate);
      return;
    }
    throw ApiError.invalid('Service', svc.metadata.name, [
      fieldError(['spec', 'ports', i, 'nodePort'], null, `no free port left in the range ${NODE_PORT_MIN}-${NODE_PORT_MAX}`),
    ]);
  });
}

/** What a Service write does to the reservations. */
export interface PortPlan {
  /** Ports to reserve for the Service (free now). */
  claim: number[];
  /** Ports the Service held and gives up (still reserved in its name). */
  release: number[];
}

/**
 * The reservations a write from `stored` (undefined: a create) to `next`
 * (undefined: the Service goes) needs. `ownerOf` reads the current reservation of a
 * port. A port held by another Service, or asked for twice by `next`, is an Invalid
 * error naming the field; nothing is written then.
 */
export function planServicePorts(stored: Service | undefined, next: Service | undefined, ownerOf: (port: number) => PortOwner | undefined): PortPlan {
  const claim: number[] = [];
  const wanted = new Set<number>();
  if (next !== undefined) {
    const me = portOwner(next);
    for (const c of servicePortClaims(next)) {
      if (wanted.has(c.port)) throw portAllocatedError(next, c);
      wanted.add(c.port);
      const owner = ownerOf(c.port);
      if (owner === undefined) claim.push(c.port);
      else if (!sameOwner(owner, me)) throw portAllocatedError(next, c);
    }
  }
  const release: number[] = [];
  if (stored !== undefined) {
    const me = portOwner(stored);
    for (const c of servicePortClaims(stored)) {
      if (wanted.has(c.port) || release.includes(c.port)) continue;
      const owner = ownerOf(c.port);
      if (owner !== undefined && sameOwner(owner, me)) release.push(c.port);
    }
  }
  return { claim, release };
}
