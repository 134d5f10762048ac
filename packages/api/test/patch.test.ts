import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyDefaults,
  applyManifest,
  createMergePatch,
  LAST_APPLIED_ANNOTATION,
  lastAppliedOf,
  mergePatch,
  parseManifests,
  podTemplateHash,
  SAFE_ALPHABET,
  validate,
  validateUpdate,
  type Deployment,
  type Resource,
  type Service,
} from '../src/index.js';
import { deployment, edit, fixture, service } from './helpers.js';

describe('JSON merge patch (RFC 7386)', () => {
  // RFC 7386, Appendix A.
  it.each<[unknown, unknown, unknown]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j = %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result);
  });

  it('the example of RFC 7386 section 3', () => {
    const target = { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' };
    const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
    expect(mergePatch(target, patch)).toEqual({
      title: 'Hello!',
      author: { givenName: 'John' },
      tags: ['example'],
      content: 'This will be unchanged',
      phoneNumber: '+01-123-456-7890',
    });
  });

  it('does not modify its inputs', () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: 2 } };
    mergePatch(target, patch);
    expect(target).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { c: 2 } });
  });

  it('createMergePatch produces a patch that turns original into modified', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.array(tie('value'), { maxLength: 2 }), tie('object')),
      object: fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 }),
    }));
    fc.assert(
      fc.property(json.object, json.object, (original, modified) => {
        expect(mergePatch(original, createMergePatch(original, modified))).toEqual(modified);
      }),
      { numRuns: 500 },
    );
    expect(createMergePatch({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 2 } })).toEqual({});
    expect(createMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } })).toEqual({ a: null, b: { d: null } });
  });
});

/** What the server does with a manifest: apply it over the live object, then default. */
function serverApply<T>(live: T | undefined, manifest: T): T {
  return applyDefaults(applyManifest(live, manifest));
}

describe('applyManifest (kubectl apply semantics)', () => {
  it('creates: the manifest plus the last-applied annotation', () => {
    const manifest = deployment();
    const created = applyManifest(undefined, manifest);
    expect(created.metadata.annotations[LAST_APPLIED_ANNOTATION]).toBeDefined();
    expect(lastAppliedOf(created)).toEqual(manifest);
    const { annotations, ...meta } = created.metadata;
    expect({ ...created, metadata: meta }).toEqual(manifest);
  });

  it('removes fields that were in the last manifest and are not in this one', () => {
    const v1 = edit(deployment(), (d) => {
      d.metadata.labels = { app: 'web', team: 'a' };
      d.spec.minReadySeconds = 10;
      d.spec.template.spec.containers[0].env = [{ name: 'DEBUG', value: '1' }];
    });
    const live = serverApply(undefined, v1);
    const v2 = edit(v1, (d) => {
      delete d.metadata.labels.team;
      delete d.spec.replicas;
      delete d.spec.minReadySeconds;
      delete d.spec.template.spec.containers[0].env;
    });
    const next = serverApply(live, v2);
    expect(next.metadata.labels).toEqual({ app: 'web' });
    expect(next.spec.replicas).toBe(1); // removed, then defaulted again
    expect(next.spec.minReadySeconds).toBe(0);
    expect(next.spec.template.spec.containers[0].env).toBeUndefined();
    expect(validateUpdate(live as Resource, next)).toEqual([]);
  });

  it("keeps what others set: status, defaults, other people's labels and annotations, scaled replicas", () => {
    const manifest = edit(deployment(), (d) => delete d.spec.replicas);
    let live: Deployment = serverApply(undefined, manifest);
    live = edit(live, (d) => {
      d.metadata.uid = 'uid-1';
      d.metadata.resourceVersion = '42';
      d.metadata.labels = { ...d.metadata.labels, 'bramble.io/owner': 'ops' };
      d.metadata.annotations['deployment.kubernetes.io/revision'] = '3';
      d.spec.replicas = 7; // scaled by someone with `bramble scale`
      d.status = { observedGeneration: 2, replicas: 7, readyReplicas: 7 };
    });
    const next = serverApply(live, edit(manifest, (d) => (d.spec.template.spec.containers[0].args = ['--verbose'])));
    expect(next.metadata.uid).toBe('uid-1');
    expect(next.metadata.resourceVersion).toBe('42');
    expect(next.metadata.labels).toEqual({ 'bramble.io/owner': 'ops' });
    expect(next.metadata.annotations['deployment.kubernetes.io/revision']).toBe('3');
    expect(next.spec.replicas).toBe(7);
    expect(next.status).toEqual({ observedGeneration: 2, replicas: 7, readyReplicas: 7 });
    expect(next.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
    expect(next.spec.template.spec.containers[0].args).toEqual(['--verbose']);
  });

  it('merges containers by name: defaulted fields inside survive, removed containers go, added-by-others stay', () => {
    const v1 = edit(deployment(), (d) => d.spec.template.spec.containers.push({ name: 'log', command: ['tail'] }));
    let live: Deployment = serverApply(undefined, v1);
    live = edit(live, (d) => d.spec.template.spec.containers.push({ name: 'injected', command: ['proxy'] }));
    const v2 = edit(v1, (d) => {
      d.spec.template.spec.containers = [{ ...d.spec.template.spec.containers[0], command: ['node', 'v2.js'] }];
    });
    const next: Deployment = serverApply(live, v2);
    expect(next.spec.template.spec.containers.map((c) => c.name)).toEqual(['web', 'injected']);
    expect(next.spec.template.spec.containers[0].command).toEqual(['node', 'v2.js']);
    expect(next.spec.template.spec.containers[0].ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('keeps an allocated nodePort and clusterIP when the manifest does not set them', () => {
    const manifest = edit(service(), (s) => {
      s.spec.type = 'NodePort';
      s.spec.ports[0].name = 'http';
    });
    const live: Service = edit(serverApply(undefined, manifest), (s) => {
      s.spec.clusterIP = '10.96.0.12';
      s.spec.ports[0].nodePort = 31234;
    });
    const next = serverApply(live, edit(manifest, (s) => s.spec.ports.push({ name: 'metrics', port: 9100 })));
    expect(next.spec.clusterIP).toBe('10.96.0.12');
    expect(next.spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 31234 },
      { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' },
    ]);
    expect(validateUpdate(live as Resource, next)).toEqual([]);
  });

  it('without a last-applied record, nothing is removed (like kubectl on objects made by create)', () => {
    const live = applyDefaults(edit(deployment(), (d) => (d.metadata.labels = { a: '1' })));
    const next = applyManifest(live, edit(deployment(), (d) => (d.metadata.labels = { b: '2' })));
    expect(next.metadata.labels).toEqual({ a: '1', b: '2' });
  });

  it('an explicit lastApplied argument wins over the annotation; null in a manifest removes a field', () => {
    const live = applyDefaults(edit(deployment(), (d) => (d.metadata.labels = { a: '1', b: '2' })));
    const next = applyManifest(live, edit(deployment(), (d) => (d.metadata.labels = { a: '1', c: null })), { metadata: { labels: { b: '2' } } });
    expect(next.metadata.labels).toEqual({ a: '1' });
    const again = applyManifest(live, edit(deployment(), (d) => (d.spec.revisionHistoryLimit = null)));
    expect(again.spec.revisionHistoryLimit).toBeUndefined();
    expect(lastAppliedOf(again)).toEqual(edit(deployment(), () => {}));
  });

  it('finalizers merge as a set', () => {
    const v1 = edit(deployment(), (d) => (d.metadata.finalizers = ['bramble.io/a']));
    const live = edit(serverApply(undefined, v1), (d) => d.metadata.finalizers.push('bramble.io/gc'));
    expect(serverApply(live, edit(v1, (d) => (d.metadata.finalizers = ['bramble.io/b']))).metadata.finalizers).toEqual([
      'bramble.io/b',
      'bramble.io/gc',
    ]);
  });

  it('does not record the annotation inside itself, and refuses a corrupt record', () => {
    const manifest = applyManifest(undefined, deployment());
    const again = applyManifest(manifest, manifest);
    expect(lastAppliedOf(again)).toEqual(deployment());
    const corrupt = edit(manifest, (d) => (d.metadata.annotations[LAST_APPLIED_ANNOTATION] = '{oops'));
    expect(() => applyManifest(corrupt, deployment())).toThrow(`metadata.annotations[${LAST_APPLIED_ANNOTATION}]: Invalid value: not valid JSON`);
  });

  it('applying the to-do app twice changes nothing the second time', () => {
    const files = ['todo/redis-master.yaml', 'todo/redis-replicas.yaml', 'todo/web.yaml', 'todo/config.yaml', 'todo/secret.yaml'];
    for (const file of files) {
      for (const manifest of parseManifests(fixture(file), file)) {
        const first = serverApply(undefined, manifest);
        expect(validate(first)).toEqual([]);
        expect(serverApply(first, manifest)).toEqual(first);
      }
    }
  });
});

describe('podTemplateHash', () => {
  const template = () => deployment().spec.template;

  it('is 10 characters of the safe alphabet, and stable', () => {
    const hash = podTemplateHash(template());
    expect(hash).toMatch(new RegExp(`^[${SAFE_ALPHABET}]{10}$`));
    expect(podTemplateHash(template())).toBe(hash);
    // Pinned: ReplicaSet names depend on it, so it must not change between versions.
    expect(hash).toMatchInlineSnapshot(`"czctch6pv6"`);
  });

  it('ignores key order and the pod-template-hash label; depends on everything else', () => {
    const t = template();
    const reordered = { spec: t.spec, metadata: { labels: { app: 'web' } } };
    expect(podTemplateHash(reordered)).toBe(podTemplateHash(t));
    const labelled = edit(t, (x) => (x.metadata.labels['pod-template-hash'] = podTemplateHash(t)));
    expect(podTemplateHash(labelled)).toBe(podTemplateHash(t));
    expect(podTemplateHash(edit(t, (x) => (x.spec.containers[0].command = ['node', 'v2.js'])))).not.toBe(podTemplateHash(t));
    expect(podTemplateHash(t, 1)).not.toBe(podTemplateHash(t));
  });

  it('rarely collides', () => {
    const hashes = new Set<string>();
    for (let i = 0; i < 2000; i++) hashes.add(podTemplateHash(edit(template(), (x) => (x.spec.containers[0].args = [String(i)]))));
    expect(hashes.size).toBe(2000);
  });
});
