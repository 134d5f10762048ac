import { describe, expect, it } from 'vitest';
import { ApiError, KINDS, kindInfo, mustResolveKind, parseRegistryKey, registryKey, registryPrefix, resolveKind } from '../src/index.js';

describe('resolveKind', () => {
  it.each<[string, string]>([
    ['deploy', 'Deployment'],
    ['deployments', 'Deployment'],
    ['deployment', 'Deployment'],
    ['Deployment', 'Deployment'],
    ['deployments.apps', 'Deployment'],
    ['po', 'Pod'],
    ['pods', 'Pod'],
    ['rs', 'ReplicaSet'],
    ['ds', 'DaemonSet'],
    ['svc', 'Service'],
    ['no', 'Node'],
    ['ns', 'Namespace'],
    ['cm', 'ConfigMap'],
    ['ev', 'Event'],
    ['ep', 'Endpoints'],
    ['endpoints', 'Endpoints'],
    ['lease', 'Lease'],
    ['leases.coordination.k8s.io', 'Lease'],
    ['secret', 'Secret'],
    ['SECRETS', 'Secret'],
    [' svc ', 'Service'],
  ])('%j -> %s', (name, kind) => {
    expect(resolveKind(name)?.kind).toBe(kind);
  });

  it('unknown names', () => {
    expect(resolveKind('statefulsets')).toBeUndefined();
    expect(resolveKind('')).toBeUndefined();
    expect(() => mustResolveKind('sts')).toThrow(new ApiError('NotFound', 'the server doesn\'t have a resource type "sts"'));
  });

  it('every kind has its apiVersion, plural and scope', () => {
    expect(KINDS.map((k) => [k.kind, k.apiVersion, k.plural, k.namespaced])).toEqual([
      ['Namespace', 'v1', 'namespaces', false],
      ['Node', 'v1', 'nodes', false],
      ['Pod', 'v1', 'pods', true],
      ['ReplicaSet', 'apps/v1', 'replicasets', true],
      ['Deployment', 'apps/v1', 'deployments', true],
      ['DaemonSet', 'apps/v1', 'daemonsets', true],
      ['Service', 'v1', 'services', true],
      ['Endpoints', 'v1', 'endpoints', true],
      ['ConfigMap', 'v1', 'configmaps', true],
      ['Secret', 'v1', 'secrets', true],
      ['Event', 'v1', 'events', true],
      ['Lease', 'coordination.k8s.io/v1', 'leases', true],
    ]);
    expect(kindInfo('Lease')).toMatchObject({ group: 'coordination.k8s.io', version: 'v1', singular: 'lease' });
    expect(kindInfo('Pod')).toMatchObject({ group: '', version: 'v1' });
  });
});

describe('registry keys', () => {
  it('namespaced and cluster-scoped keys', () => {
    expect(registryKey('Deployment', 'default', 'web')).toBe('/registry/deployments/default/web');
    expect(registryKey('deploy', 'default', 'web')).toBe('/registry/deployments/default/web');
    expect(registryKey(kindInfo('Node'), undefined, 'pi-1')).toBe('/registry/nodes/pi-1');
    expect(registryKey('Namespace', '', 'default')).toBe('/registry/namespaces/default');
  });

  it('prefixes end in a slash so that namespace "a" does not match "ab"', () => {
    expect(registryPrefix('Pod')).toBe('/registry/pods/');
    expect(registryPrefix('Pod', 'default')).toBe('/registry/pods/default/');
    expect(registryPrefix('Node')).toBe('/registry/nodes/');
    expect(registryKey('Pod', 'ab', 'x').startsWith(registryPrefix('Pod', 'a'))).toBe(false);
  });

  it('refuses keys that would be ambiguous', () => {
    expect(() => registryKey('Pod', undefined, 'web')).toThrow('Pod is namespaced: a namespace is required');
    expect(() => registryKey('Node', 'default', 'pi-1')).toThrow('Node is not namespaced (got namespace "default")');
    expect(() => registryKey('Pod', 'default', 'a/b')).toThrow('name "a/b" cannot be used in a registry key');
    expect(() => registryKey('Pod', 'default', '')).toThrow('name "" cannot be used in a registry key');
    expect(() => registryPrefix('Pod', 'a/b')).toThrow('namespace "a/b" cannot be used in a registry key');
  });

  it('parseRegistryKey inverts registryKey', () => {
    expect(parseRegistryKey('/registry/pods/default/web')).toMatchObject({ kind: { kind: 'Pod' }, namespace: 'default', name: 'web' });
    expect(parseRegistryKey('/registry/nodes/pi-1')).toMatchObject({ kind: { kind: 'Node' }, name: 'pi-1' });
    expect(parseRegistryKey('/registry/nodes/pi-1')?.namespace).toBeUndefined();
    for (const bad of ['/registry/pods/default', '/registry/widgets/a/b', '/other/pods/a/b', '/registry/nodes/a/b', '/registry/pods/default/']) {
      expect(parseRegistryKey(bad)).toBeUndefined();
    }
  });
});
