// `describe` for every kind but Pod (describe-pod.ts). Each describer gets the object and
// what the command fetched around it (the pods of a workload or node, a Service's Endpoints).
import {
  formatLabelSelector,
  parseCpu,
  parseMemory,
  type ConfigMap,
  type DaemonSet,
  type Deployment,
  type Endpoints,
  type Namespace,
  type Node,
  type Pod,
  type ReplicaSet,
  type Resource,
  type Secret,
  type Service,
} from '@bramble/api';
import { toYaml } from '../output.js';
import { ageOf } from './age.js';
import { endpointsText, serviceClusterIP } from './columns.js';
import { DescribeWriter, describeController, describeLabels, describeMeta, describeTime, mapLines, orNone } from './describe-writer.js';
import { describePodTemplate } from './describe-pod.js';

/** What the command looked up for a describer besides the object itself. */
export interface DescribeRelated {
  /** Pods controlled by a workload, or running on a node. */
  pods?: Pod[];
  /** ReplicaSets of a Deployment. */
  replicaSets?: ReplicaSet[];
  /** The Endpoints of a Service. */
  endpoints?: Endpoints;
}

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

function podsStatus(pods: Pod[] | undefined): string {
  const count = (phase: string): number => (pods ?? []).filter((p) => (p.status?.phase ?? 'Pending') === phase).length;
  return `${count('Running')} Running / ${count('Pending')} Waiting / ${count('Succeeded')} Succeeded / ${count('Failed')} Failed`;
}

function conditionsTable(w: DescribeWriter, conditions: { type: string; status: string; reason?: string }[] | undefined): void {
  if (!conditions || conditions.length === 0) return;
  w.line(0, 'Conditions:');
  w.line(1, 'Type', 'Status', 'Reason');
  w.line(1, '----', '------', '------');
  for (const c of conditions) w.line(1, c.type, c.status, c.reason ?? '');
}

function rsSummary(rs: ReplicaSet): string {
  return `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 1} replicas created)`;
}

export function describeDeployment(w: DescribeWriter, d: Deployment, related: DescribeRelated): void {
  describeMeta(w, d.metadata, { namespaced: true });
  w.line(0, 'CreationTimestamp:', describeTime(d.metadata.creationTimestamp));
  w.line(0, 'Selector:', orNone(formatLabelSelector(d.spec.selector)));
  const s = d.status ?? {};
  w.line(
    0,
    'Replicas:',
    `${d.spec.replicas ?? 1} desired | ${s.updatedReplicas ?? 0} updated | ${s.replicas ?? 0} total | ${s.availableReplicas ?? 0} available | ${s.unavailableReplicas ?? 0} unavailable`,
  );
  const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
  w.line(0, 'StrategyType:', strategy);
  w.line(0, 'MinReadySeconds:', String(d.spec.minReadySeconds ?? 0));
  if (strategy === 'RollingUpdate') {
    const ru = d.spec.strategy?.rollingUpdate ?? {};
    w.line(0, 'RollingUpdateStrategy:', `${ru.maxUnavailable ?? '25%'} max unavailable, ${ru.maxSurge ?? '25%'} max surge`);
  }
  describePodTemplate(w, d.spec.template);
  conditionsTable(w, d.status?.conditions);
  const revision = d.metadata.annotations?.[REVISION_ANNOTATION];
  const sets = related.replicaSets ?? [];
  const isNew = (rs: ReplicaSet): boolean => revision !== undefined && rs.metadata.annotations?.[REVISION_ANNOTATION] === revision;
  const old = sets.filter((rs) => !isNew(rs) && (rs.spec?.replicas ?? 0) > 0);
  w.line(0, 'OldReplicaSets:', old.length === 0 ? '<none>' : old.map(rsSummary).join(', '));
  const current = sets.find(isNew);
  w.line(0, 'NewReplicaSet:', current ? rsSummary(current) : '<none>');
}

export function describeReplicaSet(w: DescribeWriter, rs: ReplicaSet, related: DescribeRelated): void {
  describeMeta(w, rs.metadata, { namespaced: true });
  w.line(0, 'Selector:', orNone(formatLabelSelector(rs.spec.selector)));
  describeController(w, rs.metadata);
  w.line(0, 'Replicas:', `${rs.status?.replicas ?? 0} current / ${rs.spec.replicas ?? 1} desired`);
  w.line(0, 'Pods Status:', podsStatus(related.pods));
  describePodTemplate(w, rs.spec.template);
  conditionsTable(w, rs.status?.conditions);
}

export function describeDaemonSet(w: DescribeWriter, ds: DaemonSet, related: DescribeRelated): void {
  w.line(0, 'Name:', ds.metadata.name ?? '');
  w.line(0, 'Namespace:', ds.metadata.namespace ?? '');
  w.line(0, 'Selector:', orNone(formatLabelSelector(ds.spec.selector)));
  w.line(0, 'Node-Selector:', orNone(mapLines(ds.spec.template?.spec?.nodeSelector).join(',')));
  describeLabels(w, ds.metadata);
  const s = ds.status;
  w.line(0, 'Desired Number of Nodes Scheduled:', String(s?.desiredNumberScheduled ?? 0));
  w.line(0, 'Current Number of Nodes Scheduled:', String(s?.currentNumberScheduled ?? 0));
  w.line(0, 'Number of Nodes Scheduled with Up-to-date Pods:', String(s?.updatedNumberScheduled ?? 0));
  w.line(0, 'Number of Nodes Scheduled with Available Pods:', String(s?.numberAvailable ?? 0));
  w.line(0, 'Number of Nodes Misscheduled:', String(s?.numberMisscheduled ?? 0));
  w.line(0, 'Pods Status:', podsStatus(related.pods));
  describePodTemplate(w, ds.spec.template);
}

function quantitySum(pods: Pod[], pick: (c: Pod['spec']['containers'][number]) => string | number | undefined, parse: (q: string | number) => number): number {
  let total = 0;
  for (const p of pods) for (const c of p.spec.containers ?? []) {
    const q = pick(c);
    if (q !== undefined) total += parse(q);
  }
  return total;
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.trunc((part / whole) * 100)}%` : '0%';
}

export function describeNode(w: DescribeWriter, node: Node, related: DescribeRelated, nowMs: number): void {
  w.line(0, 'Name:', node.metadata.name ?? '');
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  w.line(0, 'Roles:', orNone(roles.join(',')));
  describeLabels(w, node.metadata);
  w.line(0, 'CreationTimestamp:', describeTime(node.metadata.creationTimestamp));
  w.list(0, 'Taints', (node.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`));
  w.line(0, 'Unschedulable:', String(node.spec?.unschedulable ?? false));
  const conditions = node.status?.conditions ?? [];
  w.line(0, 'Conditions:');
  w.line(1, 'Type', 'Status', 'LastHeartbeatTime', 'LastTransitionTime', 'Reason', 'Message');
  w.line(1, '----', '------', '-----------------', '------------------', '------', '-------');
  for (const c of conditions) w.line(1, c.type, c.status, describeTime(c.lastHeartbeatTime), describeTime(c.lastTransitionTime), c.reason ?? '', c.message ?? '');
  w.line(0, 'Addresses:');
  for (const a of node.status?.addresses ?? []) w.line(1, `${a.type}:`, a.address);
  for (const [label, list] of [
    ['Capacity', node.status?.capacity],
    ['Allocatable', node.status?.allocatable],
  ] as const) {
    w.line(0, `${label}:`);
    for (const [k, v] of Object.entries(list ?? {})) w.line(1, `${k}:`, String(v));
  }
  const info = node.status?.nodeInfo ?? {};
  w.line(0, 'System Info:');
  for (const [label, v] of [
    ['Machine ID', info.machineID],
    ['Boot ID', info.bootID],
    ['Kernel Version', info.kernelVersion],
    ['OS Image', info.osImage],
    ['Operating System', info.operatingSystem],
    ['Architecture', info.architecture],
    ['Container Runtime Version', info.containerRuntimeVersion],
    ['Kubelet Version', info.kubeletVersion],
  ] as const) {
    w.line(1, `${label}:`, v ?? '');
  }
  const pods = (related.pods ?? []).filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  const cpuAlloc = alloc.cpu !== undefined ? parseCpu(alloc.cpu) : 0;
  const memAlloc = alloc.memory !== undefined ? parseMemory(alloc.memory) : 0;
  w.line(0, `Non-terminated Pods:`, `(${pods.length} in total)`);
  if (pods.length > 0) {
    w.line(1, 'Namespace', 'Name', 'CPU Requests', 'CPU Limits', 'Memory Requests', 'Memory Limits', 'Age');
    w.line(1, '---------', '----', '------------', '----------', '---------------', '-------------', '---');
    for (const p of pods) {
      const cpuReq = quantitySum([p], (c) => c.resources?.requests?.cpu ?? c.resources?.limits?.cpu, parseCpu);
      const cpuLim = quantitySum([p], (c) => c.resources?.limits?.cpu, parseCpu);
      const memReq = quantitySum([p], (c) => c.resources?.requests?.memory ?? c.resources?.limits?.memory, parseMemory);
      const memLim = quantitySum([p], (c) => c.resources?.limits?.memory, parseMemory);
      w.line(
        1,
        p.metadata.namespace ?? '',
        p.metadata.name ?? '',
        `${cpuText(cpuReq)} (${percent(cpuReq, cpuAlloc)})`,
        `${cpuText(cpuLim)} (${percent(cpuLim, cpuAlloc)})`,
        `${memText(memReq)} (${percent(memReq, memAlloc)})`,
        `${memText(memLim)} (${percent(memLim, memAlloc)})`,
        ageOf(p.metadata.creationTimestamp, nowMs),
      );
    }
  }
  const cpuReq = quantitySum(pods, (c) => c.resources?.requests?.cpu ?? c.resources?.limits?.cpu, parseCpu);
  const cpuLim = quantitySum(pods, (c) => c.resources?.limits?.cpu, parseCpu);
  const memReq = quantitySum(pods, (c) => c.resources?.requests?.memory ?? c.resources?.limits?.memory, parseMemory);
  const memLim = quantitySum(pods, (c) => c.resources?.limits?.memory, parseMemory);
  w.line(0, 'Allocated resources:');
  w.line(1, 'Resource', 'Requests', 'Limits');
  w.line(1, '--------', '--------', '------');
  w.line(1, 'cpu', `${cpuText(cpuReq)} (${percent(cpuReq, cpuAlloc)})`, `${cpuText(cpuLim)} (${percent(cpuLim, cpuAlloc)})`);
  w.line(1, 'memory', `${memText(memReq)} (${percent(memReq, memAlloc)})`, `${memText(memLim)} (${percent(memLim, memAlloc)})`);
}

/** Millicores as kubectl shows requests: `0`, `250m`, `2`. */
function cpuText(m: number): string {
  return m === 0 ? '0' : m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

/** Bytes as kubectl shows requests: `0`, `128Mi`, `1Gi`, else plain bytes. */
function memText(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [suffix, size] of [
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

export function describeService(w: DescribeWriter, svc: Service, related: DescribeRelated): void {
  describeMeta(w, svc.metadata, { namespaced: true });
  w.line(0, 'Selector:', orNone(mapLines(svc.spec.selector).join(',')));
  w.line(0, 'Type:', svc.spec.type ?? 'ClusterIP');
  w.line(0, 'IP:', serviceClusterIP(svc));
  for (const p of svc.spec.ports ?? []) {
    const name = p.name ?? '<unset>';
    w.line(0, 'Port:', name, `${p.port}/${p.protocol ?? 'TCP'}`);
    w.line(0, 'TargetPort:', `${p.targetPort ?? p.port}/${p.protocol ?? 'TCP'}`);
    if (p.nodePort) w.line(0, 'NodePort:', name, `${p.nodePort}/${p.protocol ?? 'TCP'}`);
    w.line(0, 'Endpoints:', related.endpoints ? endpointsText(related.endpoints, p.name ?? '') : '<none>');
  }
  w.line(0, 'Session Affinity:', svc.spec.sessionAffinity ?? 'None');
}

export function describeEndpoints(w: DescribeWriter, ep: Endpoints): void {
  describeMeta(w, ep.metadata, { namespaced: true });
  w.line(0, 'Subsets:');
  for (const s of ep.subsets ?? []) {
    w.line(1, 'Addresses:', orNone((s.addresses ?? []).map((a) => a.ip).join(',')));
    w.line(1, 'NotReadyAddresses:', orNone((s.notReadyAddresses ?? []).map((a) => a.ip).join(',')));
    w.line(1, 'Ports:');
    w.line(2, 'Name', 'Port', 'Protocol');
    w.line(2, '----', '----', '--------');
    for (const p of s.ports ?? []) w.line(2, p.name ?? '<unset>', String(p.port), p.protocol ?? 'TCP');
  }
}

export function describeConfigMap(w: DescribeWriter, cm: ConfigMap): void {
  describeMeta(w, cm.metadata, { namespaced: true });
  w.raw('');
  w.raw('Data\n====');
  for (const [k, v] of Object.entries(cm.data ?? {})) {
    w.raw(`${k}:\n----\n${v}\n`);
  }
  w.raw('');
  w.raw('BinaryData\n====');
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) w.raw(`${k}: ${Buffer.from(v, 'base64').length} bytes`);
  w.raw('');
}

export function describeSecret(w: DescribeWriter, s: Secret): void {
  describeMeta(w, s.metadata, { namespaced: true });
  w.raw('');
  w.line(0, 'Type:', s.type ?? 'Opaque');
  w.raw('');
  w.raw('Data\n====');
  for (const [k, v] of Object.entries(s.data ?? {})) w.line(0, `${k}:`, `${Buffer.from(v, 'base64').length} bytes`);
}

export function describeNamespace(w: DescribeWriter, ns: Namespace): void {
  describeMeta(w, ns.metadata, { namespaced: false });
  w.line(0, 'Status:', ns.metadata.deletionTimestamp ? 'Terminating' : (ns.status?.phase ?? 'Active'));
}

/** Any other kind: its metadata, then its remaining fields as YAML. */
export function describeGeneric(w: DescribeWriter, obj: Resource, namespaced: boolean): void {
  describeMeta(w, obj.metadata, { namespaced });
  const rest: Record<string, unknown> = { ...(obj as unknown as Record<string, unknown>) };
  for (const k of ['apiVersion', 'kind', 'metadata']) delete rest[k];
  if (Object.keys(rest).length > 0) w.raw(toYaml(rest).trimEnd());
}
