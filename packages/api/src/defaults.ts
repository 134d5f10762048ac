/**
 * `applyDefaults(obj)`: fills what the user left out, like the Kubernetes API
 * server does on create and update. Only missing values are filled (never a
 * value the user set), so applying defaults twice gives the same object as
 * once. Works on anything: values of the wrong type are left alone for
 * validation to report.
 */
import { deepClone, isObject, setMember } from './json.js';
import { KINDS } from './registry.js';

export const DEFAULT_NAMESPACE = 'default';
/** A Raspberry Pi 4 (4 cores, 4 GiB) unless the agent reports otherwise. */
export const DEFAULT_NODE_CAPACITY: Readonly<Record<'cpu' | 'memory' | 'pods', string>> = Object.freeze({
  cpu: '4',
  memory: '4Gi',
  pods: '110',
});
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_MAX_SURGE = '25%';
export const DEFAULT_MAX_UNAVAILABLE = '25%';
/** 0644, what Kubernetes gives files projected from ConfigMaps and Secrets. */
export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_SECRET_FILE_MODE = 0o600;

type Obj = Record<string, unknown>;

const asObj = (value: unknown): Obj | undefined => (isObject(value) ? value : undefined);

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

/** The member `key` of `o` as an object, created empty if missing; undefined if it holds something else. */
function child(o: Obj, key: string): Obj | undefined {
  setDefault(o, key, {});
  return asObj(o[key]);
}

function eachObject(value: unknown, fn: (item: Obj) => void): void {
  if (!Array.isArray(value)) return;
  for (const item of value) {
    const o = asObj(item);
    if (o) fn(o);
  }
}

function probeDefaults(probe: Obj | undefined): void {
  if (!probe) return;
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  const httpGet = asObj(probe.httpGet);
  if (httpGet) {
    setDefault(httpGet, 'path', '/');
    setDefault(httpGet, 'scheme', 'HTTP');
  }
}

function containerDefaults(c: Obj): void {
  eachObject(c.ports, (p) => setDefault(p, 'protocol', 'TCP'));
  probeDefaults(asObj(c.livenessProbe));
  probeDefaults(asObj(c.readinessProbe));
  const resources = asObj(c.resources);
  const limits = asObj(resources?.limits);
  if (resources && limits && Object.keys(limits).length > 0) {
    const requests = child(resources, 'requests');
    if (requests) for (const [name, q] of Object.entries(limits)) setDefault(requests, name, q);
  }
}

/** Defaults of a pod spec (also inside templates). */
function podSpecDefaults(spec: Obj | undefined): void {
  if (!spec) return;
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
  eachObject(spec.containers, containerDefaults);
  eachObject(spec.volumes, (v) => {
    const cm = asObj(v.configMap);
    if (cm) setDefault(cm, 'defaultMode', DEFAULT_FILE_MODE);
    const secret = asObj(v.secret);
    // Secrets: owner-only files unless the pod asks otherwise (Kubernetes uses 0644; pods here share one machine).
    if (secret) setDefault(secret, 'defaultMode', DEFAULT_SECRET_FILE_MODE);
  });
}

function templateDefaults(spec: Obj): void {
  podSpecDefaults(asObj(asObj(spec.template)?.spec));
}

function deploymentDefaults(o: Obj): void {
  const spec = asObj(o.spec);
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'minReadySeconds', 0);
  setDefault(spec, 'revisionHistoryLimit', DEFAULT_REVISION_HISTORY_LIMIT);
  setDefault(spec, 'progressDeadlineSeconds', DEFAULT_PROGRESS_DEADLINE_SECONDS);
  const strategy = child(spec, 'strategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = child(strategy, 'rollingUpdate');
      if (ru) {
        setDefault(ru, 'maxSurge', DEFAULT_MAX_SURGE);
        setDefault(ru, 'maxUnavailable', DEFAULT_MAX_UNAVAILABLE);
      }
    }
  }
  templateDefaults(spec);
}

function replicaSetDefaults(o: Obj): void {
  const spec = asObj(o.spec);
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'minReadySeconds', 0);
  templateDefaults(spec);
}

function daemonSetDefaults(o: Obj): void {
  const spec = asObj(o.spec);
  if (!spec) return;
  setDefault(spec, 'minReadySeconds', 0);
  setDefault(spec, 'revisionHistoryLimit', DEFAULT_REVISION_HISTORY_LIMIT);
  const strategy = child(spec, 'updateStrategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = child(strategy, 'rollingUpdate');
      if (ru) {
        setDefault(ru, 'maxUnavailable', 1);
        setDefault(ru, 'maxSurge', 0);
      }
    }
  }
  templateDefaults(spec);
}

function serviceDefaults(o: Obj): void {
  const spec = asObj(o.spec);
  if (!spec) return;
  setDefault(spec, 'type', 'ClusterIP');
  eachObject(spec.ports, (p) => {
    setDefault(p, 'protocol', 'TCP');
    if (typeof p.port === 'number') setDefault(p, 'targetPort', p.port);
  });
}

function secretDefaults(o: Obj): void {
  setDefault(o, 'type', 'Opaque');
  const stringData = asObj(o.stringData);
  if (!stringData) return;
  const values = Object.entries(stringData);
  if (!values.every(([, v]) => typeof v === 'string')) return; // validation reports it
  const data = child(o, 'data');
  if (!data) return;
  for (const [key, value] of values) setMember(data, key, Buffer.from(value as string, 'utf8').toString('base64'));
  delete o.stringData;
}

function nodeDefaults(o: Obj): void {
  const status = child(o, 'status');
  if (!status) return;
  const capacity = child(status, 'capacity');
  if (!capacity) return;
  for (const [name, q] of Object.entries(DEFAULT_NODE_CAPACITY)) setDefault(capacity, name, q);
  const allocatable = child(status, 'allocatable');
  if (!allocatable) return;
  for (const [name, q] of Object.entries(capacity)) setDefault(allocatable, name, q);
}

const byKind: Record<string, (o: Obj) => void> = {
  Pod: (o) => podSpecDefaults(asObj(o.spec)),
  ReplicaSet: replicaSetDefaults,
  Deployment: deploymentDefaults,
  DaemonSet: daemonSetDefaults,
  Service: serviceDefaults,
  Endpoints: (o) => eachObject(o.subsets, (s) => eachObject(s.ports, (p) => setDefault(p, 'protocol', 'TCP'))),
  Secret: secretDefaults,
  Node: nodeDefaults,
  Namespace: (o) => {
    const status = child(o, 'status');
    if (status) setDefault(status, 'phase', 'Active');
  },
};

/**
 * A defaulted copy of `obj` (the input is not modified). Secret `stringData`
 * is folded into `data` (base64), as the Kubernetes API server does.
 */
export function applyDefaults<T>(obj: T): T {
  const copy = deepClone(obj);
  const o = asObj(copy);
  if (!o || typeof o.kind !== 'string') return copy;
  const info = KINDS.find((k) => k.kind === o.kind);
  if (!info) return copy;
  const meta = asObj(o.metadata);
  if (info.namespaced && meta && (meta.namespace === undefined || meta.namespace === null || meta.namespace === '')) {
    meta.namespace = DEFAULT_NAMESPACE;
  }
  byKind[info.kind]?.(o);
  return copy;
}
