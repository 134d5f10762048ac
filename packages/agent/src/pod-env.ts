// Resolving a pod's `env` and `envFrom` into plain name/value pairs per container: literal values,
// the downward API (fieldRef), and keys of ConfigMaps and Secrets read through the API.
// `$(VAR)` expansion and PORT / POD_IP are the runtime's job.
import { isEnvVarName, type ConfigMap, type Container, type Pod, type Secret, type Service } from '@bramble/api';
import { serviceEnv } from './service-env.js';

export type ResolvedEnv = Record<string, Array<{ name: string; value: string }>>;

/** A reference the pod needs cannot be satisfied (missing object or key): the container cannot be created. */
export class ConfigRefError extends Error {
  /** The container whose env needs it, once known. */
  container: string | undefined;
  /** The containers' waiting reason while it lasts (a missing volume source: ContainerCreating, as in Kubernetes). */
  waitingReason = 'CreateContainerConfigError';
  /** Reason of the Warning event (a missing volume source: FailedMount). */
  eventReason = 'Failed';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigRefError';
  }
}

/** ConfigMaps and Secrets of the pod's namespace, read up front; `undefined` = does not exist. */
export interface PodConfigObjects {
  configMaps: Map<string, ConfigMap | undefined>;
  secrets: Map<string, Secret | undefined>;
  /** The Services of the pod's namespace when it starts: <NAME>_SERVICE_HOST/PORT env (service-env.ts). */
  services?: readonly Service[];
}

/** Names of the ConfigMaps and Secrets the pod's env refers to. */
export function envReferences(pod: Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const c of pod.spec.containers) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
      if (e.valueFrom?.secretKeyRef) secrets.add(e.valueFrom.secretKeyRef.name);
    }
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef) configMaps.add(f.configMapRef.name);
      if (f.secretRef) secrets.add(f.secretRef.name);
    }
  }
  return { configMaps, secrets };
}

export interface DownwardValues {
  /** The node's address: both status.hostIP and status.podIP. */
  address: string;
}

function fieldValue(pod: Pod, fieldPath: string, d: DownwardValues): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'status.hostIP':
    case 'status.podIP':
      return d.address;
    default:
      throw new ConfigRefError(`unsupported fieldRef.fieldPath ${JSON.stringify(fieldPath)}`);
  }
}

function decodeBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

function configMapData(cm: ConfigMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = decodeBase64(v);
  for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = v;
  return out;
}

function secretData(s: Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = decodeBase64(v);
  // The API folds stringData into data on write; a Secret that still has it (a test double) gets the same result.
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
  return out;
}

function containerEnv(pod: Pod, c: Container, objects: PodConfigObjects, d: DownwardValues): Array<{ name: string; value: string }> {
  const ns = pod.metadata.namespace ?? 'default';
  const out: Array<{ name: string; value: string }> = [];
  // envFrom first; `env` entries come after, so they win when the runtime builds the environment in order.
  for (const from of c.envFrom ?? []) {
    let data: Record<string, string> | undefined;
    if (from.configMapRef) {
      const cm = objects.configMaps.get(from.configMapRef.name);
      if (!cm && !from.configMapRef.optional) throw new ConfigRefError(`configmap "${from.configMapRef.name}" not found`);
      data = cm && configMapData(cm);
    } else if (from.secretRef) {
      const s = objects.secrets.get(from.secretRef.name);
      if (!s && !from.secretRef.optional) throw new ConfigRefError(`secret "${from.secretRef.name}" not found`);
      data = s && secretData(s);
    }
    for (const [k, v] of Object.entries(data ?? {})) {
      const name = `${from.prefix ?? ''}${k}`;
      if (isEnvVarName(name).length === 0) out.push({ name, value: v }); // Kubernetes skips keys that are not valid names
    }
  }
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      out.push({ name: e.name, value: e.value ?? '' });
    } else if (from.fieldRef) {
      out.push({ name: e.name, value: fieldValue(pod, from.fieldRef.fieldPath, d) });
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const cm = objects.configMaps.get(ref.name);
      if (!cm) {
        if (ref.optional) continue;
        throw new ConfigRefError(`configmap "${ref.name}" not found`);
      }
      const value = configMapData(cm)[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ConfigRefError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
      }
      out.push({ name: e.name, value });
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const s = objects.secrets.get(ref.name);
      if (!s) {
        if (ref.optional) continue;
        throw new ConfigRefError(`secret "${ref.name}" not found`);
      }
      const value = secretData(s)[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ConfigRefError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      }
      out.push({ name: e.name, value });
    }
  }
  return out;
}

/** Every container's resolved env; throws ConfigRefError naming the first missing reference. */
export function resolvePodEnv(pod: Pod, objects: PodConfigObjects, d: DownwardValues): ResolvedEnv {
  const out: ResolvedEnv = {};
  const links = serviceEnv(objects.services ?? [], d.address);
  for (const c of pod.spec.containers) {
    try {
      out[c.name] = [...links, ...containerEnv(pod, c, objects, d)]; // the container's own env wins
    } catch (err) {
      if (err instanceof ConfigRefError) err.container = c.name;
      throw err;
    }
  }
  return out;
}
