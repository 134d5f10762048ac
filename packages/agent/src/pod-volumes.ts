// Projecting a pod's configMap and secret volumes into files (Kubernetes rules): every key,
// or only `items` (key -> path, with its own mode); modes from `items[].mode`, else
// `defaultMode` (0644 for ConfigMaps, 0600 for Secrets when the pod gives none). The
// runtime writes the files; this only decides what they are.
import type { ConfigMap, Pod, Secret, Volume } from '@bramble/api';
import { ConfigRefError, envReferences, type PodConfigObjects } from './pod-env.js';
import type { VolumeFile } from './runtime/types.js';

export const CONFIGMAP_DEFAULT_MODE = 0o644;
export const SECRET_DEFAULT_MODE = 0o600;

/** Names of the ConfigMaps and Secrets the pod's volumes refer to. */
export function volumeReferences(pod: Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    if (v.configMap) configMaps.add(v.configMap.name);
    if (v.secret) secrets.add(v.secret.secretName);
  }
  return { configMaps, secrets };
}

/** Every ConfigMap and Secret the pod needs, from its env and its volumes. */
export function configReferences(pod: Pod): { configMaps: Set<string>; secrets: Set<string> } {
  const env = envReferences(pod);
  const vol = volumeReferences(pod);
  return { configMaps: new Set([...env.configMaps, ...vol.configMaps]), secrets: new Set([...env.secrets, ...vol.secrets]) };
}

/** Key -> base64 content of a ConfigMap (data is text, binaryData is base64 already). */
function configMapContents(cm: ConfigMap): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, Buffer.from(v, 'utf8').toString('base64'));
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out.set(k, v);
  return out;
}

function secretContents(s: Secret): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(s.data ?? {})) out.set(k, v);
  for (const [k, v] of Object.entries(s.stringData ?? {})) out.set(k, Buffer.from(v, 'utf8').toString('base64'));
  return out;
}

function mountError(volume: string, message: string): ConfigRefError {
  const err = new ConfigRefError(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
  err.waitingReason = 'ContainerCreating';
  err.eventReason = 'FailedMount';
  return err;
}

function project(v: Volume, what: 'configmap' | 'secret', name: string, contents: Map<string, string> | undefined, source: { items?: Array<{ key: string; path: string; mode?: number }>; defaultMode?: number; optional?: boolean }, fallbackMode: number): VolumeFile[] {
  if (!contents) {
    if (source.optional) return [];
    throw mountError(v.name, `${what} "${name}" not found`);
  }
  const defaultMode = source.defaultMode ?? fallbackMode;
  if (!source.items || source.items.length === 0) {
    return [...contents].map(([key, contentBase64]) => ({ path: key, mode: defaultMode, contentBase64 }));
  }
  const files: VolumeFile[] = [];
  for (const item of source.items) {
    const contentBase64 = contents.get(item.key);
    if (contentBase64 === undefined) {
      if (source.optional) continue;
      throw mountError(v.name, `${what} references non-existent ${what === 'configmap' ? 'config' : 'secret'} key: ${item.key}`);
    }
    files.push({ path: item.path, mode: item.mode ?? defaultMode, contentBase64 });
  }
  return files;
}

/** The files of every configMap/secret volume; throws ConfigRefError (FailedMount) for a missing source. */
export function resolvePodVolumes(pod: Pod, objects: PodConfigObjects): Record<string, VolumeFile[]> {
  const out: Record<string, VolumeFile[]> = {};
  for (const v of pod.spec.volumes ?? []) {
    if (v.configMap) {
      const cm = objects.configMaps.get(v.configMap.name);
      out[v.name] = project(v, 'configmap', v.configMap.name, cm && configMapContents(cm), v.configMap, CONFIGMAP_DEFAULT_MODE);
    } else if (v.secret) {
      const s = objects.secrets.get(v.secret.secretName);
      out[v.name] = project(v, 'secret', v.secret.secretName, s && secretContents(s), v.secret, SECRET_DEFAULT_MODE);
    }
  }
  return out;
}
