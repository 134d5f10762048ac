// `describe pod`, and the container and pod-template sections workloads share with it.
import type { Container, ContainerState, ContainerStatus, Pod, PodTemplateSpec, Probe, Toleration, Volume } from '@bramble/api';
import { humanDuration } from './age.js';
import { DescribeWriter, describeController, describeMeta, describeTime, mapLines, orNone } from './describe-writer.js';

function probeText(p: Probe): string {
  let action = '';
  if (p.exec) action = `exec [${p.exec.command.join(' ')}]`;
  else if (p.httpGet) action = `http-get ${p.httpGet.scheme === 'HTTPS' ? 'https' : 'http'}://:${p.httpGet.port}${p.httpGet.path ?? '/'}`;
  else if (p.tcpSocket) action = `tcp-socket :${p.tcpSocket.port}`;
  return `${action} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
}

function describeState(w: DescribeWriter, level: number, label: string, state: ContainerState | undefined): void {
  if (state?.running) {
    w.line(level, `${label}:`, 'Running');
    w.line(level + 1, 'Started:', describeTime(state.running.startedAt));
  } else if (state?.waiting) {
    w.line(level, `${label}:`, 'Waiting');
    if (state.waiting.reason) w.line(level + 1, 'Reason:', state.waiting.reason);
    if (state.waiting.message) w.line(level + 1, 'Message:', state.waiting.message);
  } else if (state?.terminated) {
    const t = state.terminated;
    w.line(level, `${label}:`, 'Terminated');
    if (t.reason) w.line(level + 1, 'Reason:', t.reason);
    if (t.message) w.line(level + 1, 'Message:', t.message);
    w.line(level + 1, 'Exit Code:', String(t.exitCode));
    if (t.signal) w.line(level + 1, 'Signal:', String(t.signal));
    w.line(level + 1, 'Started:', describeTime(t.startedAt));
    w.line(level + 1, 'Finished:', describeTime(t.finishedAt));
  } else {
    w.line(level, `${label}:`, label === 'State' ? 'Waiting' : '');
  }
}

function envValue(e: NonNullable<Container['env']>[number]): string {
  if (e.value !== undefined) return e.value;
  const f = e.valueFrom;
  if (f?.configMapKeyRef) return `<set to the key '${f.configMapKeyRef.key}' of config map '${f.configMapKeyRef.name}'>  Optional: ${f.configMapKeyRef.optional ?? false}`;
  if (f?.secretKeyRef) return `<set to the key '${f.secretKeyRef.key}' in secret '${f.secretKeyRef.name}'>  Optional: ${f.secretKeyRef.optional ?? false}`;
  if (f?.fieldRef) return `(${f.fieldRef.apiVersion ?? 'v1'}:${f.fieldRef.fieldPath})`;
  return '';
}

/** One container: what it runs, its ports, (for pods) its state, resources, probes, environment and mounts. */
export function describeContainer(w: DescribeWriter, level: number, c: Container, status?: ContainerStatus): void {
  w.line(level, `${c.name}:`);
  const l = level + 1;
  if (status) w.line(l, 'Container ID:', status.containerID ?? '');
  w.line(l, 'Image:', c.image ?? '<none>');
  const ports = c.ports ?? [];
  const host = new Map((status?.ports ?? []).map((p) => [p.containerPort, p.hostPort]));
  const portText = (p: (typeof ports)[number]): string => `${p.containerPort}/${p.protocol ?? 'TCP'}${p.name ? ` (${p.name})` : ''}`;
  if (ports.length <= 1) {
    w.line(l, 'Port:', ports.length === 0 ? '<none>' : portText(ports[0]));
    w.line(l, 'Host Port:', ports.length === 0 || !host.has(ports[0].containerPort) ? '<none>' : `${host.get(ports[0].containerPort)}/${ports[0].protocol ?? 'TCP'}`);
  } else {
    w.line(l, 'Ports:', ports.map(portText).join(', '));
    w.line(l, 'Host Ports:', ports.map((p) => `${host.get(p.containerPort) ?? 0}/${p.protocol ?? 'TCP'}`).join(', '));
  }
  if (c.command?.length) {
    w.line(l, 'Command:');
    for (const a of c.command) w.line(l + 1, a);
  }
  if (c.args?.length) {
    w.line(l, 'Args:');
    for (const a of c.args) w.line(l + 1, a);
  }
  if (c.workingDir) w.line(l, 'Working Dir:', c.workingDir);
  if (status) {
    describeState(w, l, 'State', status.state);
    if (status.lastState && (status.lastState.running || status.lastState.waiting || status.lastState.terminated)) describeState(w, l, 'Last State', status.lastState);
    w.line(l, 'Ready:', status.ready ? 'True' : 'False');
    w.line(l, 'Restart Count:', String(status.restartCount ?? 0));
  }
  for (const [label, list] of [
    ['Limits', c.resources?.limits],
    ['Requests', c.resources?.requests],
  ] as const) {
    const entries = Object.entries(list ?? {});
    if (entries.length === 0) continue;
    w.line(l, `${label}:`);
    for (const [k, v] of entries) w.line(l + 1, `${k}:`, String(v));
  }
  if (c.livenessProbe) w.line(l, 'Liveness:', probeText(c.livenessProbe));
  if (c.readinessProbe) w.line(l, 'Readiness:', probeText(c.readinessProbe));
  const envFrom = c.envFrom ?? [];
  if (envFrom.length > 0) {
    w.line(l, 'Environment Variables from:');
    for (const f of envFrom) {
      const [name, kind] = f.configMapRef ? [f.configMapRef.name, 'ConfigMap'] : [f.secretRef?.name ?? '', 'Secret'];
      const optional = f.configMapRef?.optional ?? f.secretRef?.optional ?? false;
      w.line(l + 1, name, `${kind}${f.prefix ? ` with prefix '${f.prefix}'` : ''}`, `Optional: ${optional}`);
    }
  }
  const env = c.env ?? [];
  if (env.length === 0) w.line(l, 'Environment:', '<none>');
  else {
    w.line(l, 'Environment:');
    for (const e of env) w.line(l + 1, `${e.name}:`, envValue(e));
  }
  const mounts = c.volumeMounts ?? [];
  if (mounts.length === 0) w.line(l, 'Mounts:', '<none>');
  else {
    w.line(l, 'Mounts:');
    for (const m of mounts) w.line(l + 1, `${m.mountPath}${m.subPath ? `/${m.subPath}` : ''} from ${m.name} (${m.readOnly ? 'ro' : 'rw'})`);
  }
}

function describeVolumes(w: DescribeWriter, level: number, volumes: Volume[]): void {
  if (volumes.length === 0) {
    w.line(level, 'Volumes:', '<none>');
    return;
  }
  w.line(level, 'Volumes:');
  for (const v of volumes) {
    w.line(level + 1, `${v.name}:`);
    const l = level + 2;
    if (v.configMap) {
      w.line(l, 'Type:', 'ConfigMap (a volume populated by a ConfigMap)');
      w.line(l, 'Name:', v.configMap.name);
      w.line(l, 'Optional:', String(v.configMap.optional ?? false));
    } else if (v.secret) {
      w.line(l, 'Type:', 'Secret (a volume populated by a Secret)');
      w.line(l, 'SecretName:', v.secret.secretName);
      w.line(l, 'Optional:', String(v.secret.optional ?? false));
    } else if (v.emptyDir) {
      w.line(l, 'Type:', "EmptyDir (a temporary directory that shares a pod's lifetime)");
      w.line(l, 'SizeLimit:', v.emptyDir.sizeLimit === undefined ? '<unset>' : String(v.emptyDir.sizeLimit));
    }
  }
}

/** `key=value:NoExecute op=Exists for 300s`, as kubectl lists tolerations. */
function tolerationText(t: Toleration): string {
  let s = t.key ?? '';
  if (t.value) s += `=${t.value}`;
  if (t.effect) s += `:${t.effect}`;
  if (t.operator === 'Exists') s += s ? ' op=Exists' : 'op=Exists';
  if (t.tolerationSeconds !== undefined) s += ` for ${t.tolerationSeconds}s`;
  return s;
}

/** `Pod Template:` of a workload: its labels, containers and volumes. */
export function describePodTemplate(w: DescribeWriter, template: PodTemplateSpec | undefined): void {
  w.line(0, 'Pod Template:');
  w.list(1, 'Labels', mapLines(template?.metadata?.labels));
  w.line(1, 'Containers:');
  for (const c of template?.spec?.containers ?? []) describeContainer(w, 2, c);
  describeVolumes(w, 1, template?.spec?.volumes ?? []);
  if (template?.spec?.nodeSelector && Object.keys(template.spec.nodeSelector).length > 0) w.list(1, 'Node-Selectors', mapLines(template.spec.nodeSelector));
}

export function describePod(w: DescribeWriter, pod: Pod, nowMs: number): void {
  describeMeta(w, pod.metadata, { namespaced: true });
  const node = pod.spec.nodeName ? `${pod.spec.nodeName}${pod.status?.hostIP ? `/${pod.status.hostIP}` : ''}` : '<none>';
  w.line(0, 'Node:', node);
  w.line(0, 'Start Time:', pod.status?.startTime ? describeTime(pod.status.startTime) : '<unset>');
  if (pod.metadata.deletionTimestamp) {
    const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    w.line(0, 'Status:', `Terminating (lasts ${humanDuration(nowMs - Date.parse(pod.metadata.deletionTimestamp))})`);
    w.line(0, 'Termination Grace Period:', `${Math.round(graceMs / 1000)}s`);
  } else {
    w.line(0, 'Status:', pod.status?.phase ?? 'Pending');
  }
  if (pod.status?.reason) w.line(0, 'Reason:', pod.status.reason);
  if (pod.status?.message) w.line(0, 'Message:', pod.status.message);
  w.line(0, 'IP:', orNone(pod.status?.podIP));
  describeController(w, pod.metadata);
  w.line(0, 'Containers:');
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  for (const c of pod.spec.containers ?? []) describeContainer(w, 1, c, statuses.get(c.name) ?? { name: c.name, ready: false, restartCount: 0, state: { waiting: {} } });
  const conditions = pod.status?.conditions ?? [];
  if (conditions.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type', 'Status');
    for (const c of conditions) w.line(1, c.type, c.status);
  }
  describeVolumes(w, 0, pod.spec.volumes ?? []);
  w.list(0, 'Node-Selectors', mapLines(pod.spec.nodeSelector));
  w.list(0, 'Tolerations', (pod.spec.tolerations ?? []).map(tolerationText));
}
