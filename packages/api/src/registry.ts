/**
 * The kinds Bramble serves, their names, and where their objects live in the
 * key-value store: `/registry/<plural>/<namespace>/<name>` for namespaced
 * kinds and `/registry/<plural>/<name>` for cluster-scoped ones (etcd's
 * layout in Kubernetes).
 */
import { ApiError } from './errors.js';
import type { KindName } from './types/index.js';

export interface KindInfo {
  kind: KindName;
  /** `v1`, `apps/v1`, `coordination.k8s.io/v1`. */
  apiVersion: string;
  /** `''` for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
}

function info(kind: KindName, apiVersion: string, plural: string, shortNames: string[], namespaced: boolean): KindInfo {
  const slash = apiVersion.indexOf('/');
  return Object.freeze({
    kind,
    apiVersion,
    group: slash < 0 ? '' : apiVersion.slice(0, slash),
    version: slash < 0 ? apiVersion : apiVersion.slice(slash + 1),
    plural,
    singular: kind.toLowerCase(),
    shortNames: Object.freeze(shortNames),
    namespaced,
  });
}

/** Every kind, in the order `get all`-style listings use. */
export const KINDS: readonly KindInfo[] = Object.freeze([
  info('Namespace', 'v1', 'namespaces', ['ns'], false),
  info('Node', 'v1', 'nodes', ['no'], false),
  info('Pod', 'v1', 'pods', ['po'], true),
  info('ReplicaSet', 'apps/v1', 'replicasets', ['rs'], true),
  info('Deployment', 'apps/v1', 'deployments', ['deploy'], true),
  info('DaemonSet', 'apps/v1', 'daemonsets', ['ds'], true),
  info('Service', 'v1', 'services', ['svc'], true),
  info('Endpoints', 'v1', 'endpoints', ['ep'], true),
  info('ConfigMap', 'v1', 'configmaps', ['cm'], true),
  info('Secret', 'v1', 'secrets', ['secret'], true),
  info('Event', 'v1', 'events', ['ev'], true),
  info('Lease', 'coordination.k8s.io/v1', 'leases', ['lease'], true),
]);

const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const name of [k.kind, k.plural, k.singular, ...k.shortNames]) {
    byName.set(name.toLowerCase(), k);
    if (k.group !== '') byName.set(`${name.toLowerCase()}.${k.group}`, k); // `deployments.apps`
  }
}

/**
 * The kind named by a kind (`Deployment`), plural (`deployments`), singular
 * (`deployment`), short name (`deploy`), or `<plural>.<group>`
 * (`deployments.apps`); case-insensitive. `undefined` if there is none.
 */
export function resolveKind(name: string): KindInfo | undefined {
  return byName.get(name.trim().toLowerCase());
}

/** Like `resolveKind`, but throws `ApiError('NotFound')` with kubectl's message. */
export function mustResolveKind(name: string): KindInfo {
  const found = resolveKind(name);
  if (!found) throw new ApiError('NotFound', `the server doesn't have a resource type ${JSON.stringify(name)}`);
  return found;
}

/** The kind info for a kind name; throws if `kind` is not one. */
export function kindInfo(kind: string): KindInfo {
  const found = KINDS.find((k) => k.kind === kind);
  if (!found) throw new ApiError('BadRequest', `unknown kind ${JSON.stringify(kind)}`);
  return found;
}

function toInfo(kind: KindName | KindInfo | string): KindInfo {
  return typeof kind === 'string' ? mustResolveKind(kind) : kind;
}

function checkSegment(what: string, value: string): void {
  if (value === '' || value.includes('/')) {
    throw new ApiError('BadRequest', `${what} ${JSON.stringify(value)} cannot be used in a registry key`);
  }
}

/**
 * The store key of one object. `namespace` is required for namespaced kinds
 * and must be empty for cluster-scoped ones.
 */
export function registryKey(kind: KindName | KindInfo | string, namespace: string | undefined, name: string): string {
  const k = toInfo(kind);
  if (k.namespaced && !namespace) throw new ApiError('BadRequest', `${k.kind} is namespaced: a namespace is required`);
  checkSegment('name', name);
  return `${registryPrefix(k, namespace)}${name}`;
}

/**
 * The key prefix under which a kind's objects live, ending in `/`: all of
 * them (`/registry/pods/`), or one namespace's (`/registry/pods/default/`).
 */
export function registryPrefix(kind: KindName | KindInfo | string, namespace?: string): string {
  const k = toInfo(kind);
  if (!k.namespaced) {
    if (namespace) throw new ApiError('BadRequest', `${k.kind} is not namespaced (got namespace ${JSON.stringify(namespace)})`);
    return `/registry/${k.plural}/`;
  }
  if (namespace === undefined) return `/registry/${k.plural}/`;
  checkSegment('namespace', namespace);
  return `/registry/${k.plural}/${namespace}/`;
}

/** The inverse of `registryKey`: `undefined` if `key` is not an object key. */
export function parseRegistryKey(key: string): { kind: KindInfo; namespace?: string; name: string } | undefined {
  const parts = key.split('/');
  if (parts[0] !== '' || parts[1] !== 'registry') return undefined;
  const kind = KINDS.find((k) => k.plural === parts[2]);
  if (!kind) return undefined;
  if (kind.namespaced) {
    if (parts.length !== 5 || !parts[3] || !parts[4]) return undefined;
    return { kind, namespace: parts[3], name: parts[4] };
  }
  if (parts.length !== 4 || !parts[3]) return undefined;
  return { kind, name: parts[3] };
}
