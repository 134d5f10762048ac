// The table columns of every kind, as kubectl prints them (`get`, and `-o wide` for the
// extra columns on the right). Pure: objects and a clock in, cells out.
import { formatLabelSelector, type KindName, type Resource, type ResourceKinds } from '@bramble/api';
import { ageOf } from './age.js';
import { podSummary } from './pod-status.js';

export interface Columns<T> {
  headers: string[];
  row(obj: T, nowMs: number): string[];
  /** Extra columns for `-o wide`. */
  wideHeaders?: string[];
  wideRow?(obj: T, nowMs: number): string[];
}

const NONE = '<none>';

function orNone(s: string | undefined): string {
  return s === undefined || s === '' ? NONE : s;
}

function num(n: number | undefined): string {
  return String(n ?? 0);
}

function age(obj: Resource, nowMs: number): string {
  return ageOf(obj.metadata.creationTimestamp, nowMs);
}

function mapText(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {});
  return entries.length === 0 ? NONE : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** CONTAINERS and IMAGES of a pod template, for the wide form of workloads. */
function templateCells(spec: { template: { spec: { containers: { name: string; image?: string }[] } } }): string[] {
  const containers = spec.template?.spec?.containers ?? [];
  return [containers.map((c) => c.name).join(','), containers.map((c) => c.image ?? NONE).join(',')];
}

export function nodeStatus(node: ResourceKinds['Node']): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const status = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  return node.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
}

export function nodeRoles(node: ResourceKinds['Node']): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) {
      roles.add(v);
    }
  }
  return roles.size === 0 ? NONE : [...roles].sort().join(',');
}

export function nodeAddress(node: ResourceKinds['Node'], type: string): string | undefined {
  return node.status?.addresses?.find((a) => a.type === type)?.address;
}

export function servicePorts(svc: ResourceKinds['Service']): string {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) return NONE;
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

/** Bramble emulates a cluster IP by a port served on every node's address: `<nodes>` unless one is set. */
export function serviceClusterIP(svc: ResourceKinds['Service']): string {
  return svc.spec?.clusterIP || '<nodes>';
}

const MAX_ENDPOINTS_SHOWN = 3;

/** `ip:port,...` of the ready addresses; with `portName`, only the endpoint ports of that name (a Service port's). */
export function endpointsText(ep: ResourceKinds['Endpoints'], portName?: string): string {
  const all: string[] = [];
  for (const subset of ep.subsets ?? []) {
    const ports = (subset.ports ?? []).filter((p) => portName === undefined || (p.name ?? '') === portName);
    if (portName !== undefined && ports.length === 0) continue;
    for (const address of subset.addresses ?? []) {
      if (ports.length === 0) all.push(address.ip);
      for (const p of ports) all.push(`${address.ip}:${p.port}`);
    }
  }
  if (all.length === 0) return NONE;
  const shown = all.slice(0, MAX_ENDPOINTS_SHOWN).join(',');
  return all.length > MAX_ENDPOINTS_SHOWN ? `${shown} + ${all.length - MAX_ENDPOINTS_SHOWN} more...` : shown;
}

export function eventTimeMs(ev: ResourceKinds['Event']): number | undefined {
  for (const t of [ev.lastTimestamp, ev.eventTime, ev.firstTimestamp, ev.metadata.creationTimestamp]) {
    const ms = t ? Date.parse(t) : NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

/** `pod/web-1`: what an event is about. */
export function involvedRef(ev: ResourceKinds['Event']): string {
  const o = ev.involvedObject ?? {};
  return `${(o.kind ?? '').toLowerCase()}/${o.name ?? ''}`;
}

const COLUMNS: { [K in KindName]: Columns<ResourceKinds[K]> } = {
  Pod: {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    row: (p, now) => {
      const s = podSummary(p, now);
      return [p.metadata.name ?? '', s.ready, s.status, s.restartsCell, age(p, now)];
    },
    wideHeaders: ['IP', 'NODE'],
    wideRow: (p) => [orNone(p.status?.podIP), orNone(p.spec?.nodeName)],
  },
  Deployment: {
    headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    row: (d, now) => [d.metadata.name ?? '', `${num(d.status?.readyReplicas)}/${num(d.spec?.replicas ?? 1)}`, num(d.status?.updatedReplicas), num(d.status?.availableReplicas), age(d, now)],
    wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    wideRow: (d) => [...templateCells(d.spec), orNone(formatLabelSelector(d.spec?.selector))],
  },
  ReplicaSet: {
    headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    row: (r, now) => [r.metadata.name ?? '', num(r.spec?.replicas ?? 1), num(r.status?.replicas), num(r.status?.readyReplicas), age(r, now)],
    wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    wideRow: (r) => [...templateCells(r.spec), orNone(formatLabelSelector(r.spec?.selector))],
  },
  DaemonSet: {
    headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE'],
    row: (d, now) => [
      d.metadata.name ?? '',
      num(d.status?.desiredNumberScheduled),
      num(d.status?.currentNumberScheduled),
      num(d.status?.numberReady),
      num(d.status?.updatedNumberScheduled),
      num(d.status?.numberAvailable),
      mapText(d.spec?.template?.spec?.nodeSelector),
      age(d, now),
    ],
    wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    wideRow: (d) => [...templateCells(d.spec), orNone(formatLabelSelector(d.spec?.selector))],
  },
  Node: {
    headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    row: (n, now) => [n.metadata.name ?? '', nodeStatus(n), nodeRoles(n), age(n, now), orNone(n.status?.nodeInfo?.kubeletVersion)],
    wideHeaders: ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
    wideRow: (n) => [
      orNone(nodeAddress(n, 'InternalIP')),
      orNone(nodeAddress(n, 'ExternalIP')),
      orNone(n.status?.nodeInfo?.osImage),
      orNone(n.status?.nodeInfo?.kernelVersion),
      orNone(n.status?.nodeInfo?.containerRuntimeVersion),
    ],
  },
  Service: {
    headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    row: (s, now) => [s.metadata.name ?? '', s.spec?.type ?? 'ClusterIP', serviceClusterIP(s), NONE, servicePorts(s), age(s, now)],
    wideHeaders: ['SELECTOR'],
    wideRow: (s) => [mapText(s.spec?.selector)],
  },
  Endpoints: {
    headers: ['NAME', 'ENDPOINTS', 'AGE'],
    row: (e, now) => [e.metadata.name ?? '', endpointsText(e), age(e, now)],
  },
  ConfigMap: {
    headers: ['NAME', 'DATA', 'AGE'],
    row: (c, now) => [c.metadata.name ?? '', String(Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length), age(c, now)],
  },
  Secret: {
    headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
    row: (s, now) => [s.metadata.name ?? '', s.type ?? 'Opaque', String(Object.keys(s.data ?? {}).length), age(s, now)],
  },
  Event: {
    headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    row: (e, now) => {
      const t = eventTimeMs(e);
      return [t === undefined ? '<unknown>' : ageOf(new Date(t).toISOString(), now), e.type ?? '', e.reason ?? '', involvedRef(e), (e.message ?? '').trim()];
    },
    wideHeaders: ['SUBOBJECT', 'SOURCE', 'FIRST SEEN', 'COUNT', 'NAME'],
    wideRow: (e, now) => [
      e.involvedObject?.fieldPath ?? '',
      [e.source?.component ?? e.reportingComponent, e.source?.host].filter(Boolean).join(', '),
      ageOf(e.firstTimestamp ?? e.metadata.creationTimestamp, now),
      String(e.count ?? 1),
      e.metadata.name ?? '',
    ],
  },
  Namespace: {
    headers: ['NAME', 'STATUS', 'AGE'],
    row: (n, now) => [n.metadata.name ?? '', n.metadata.deletionTimestamp ? 'Terminating' : (n.status?.phase ?? 'Active'), age(n, now)],
  },
  Lease: {
    headers: ['NAME', 'HOLDER', 'AGE'],
    row: (l, now) => [l.metadata.name ?? '', l.spec?.holderIdentity ?? '', age(l, now)],
  },
};

export function columnsFor<K extends KindName>(kind: K): Columns<ResourceKinds[K]> {
  return COLUMNS[kind] as Columns<ResourceKinds[K]>;
}
