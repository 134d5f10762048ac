import { describe, expect, it } from 'vitest';
import { applyDefaults, validateUpdate, validateUpdateOrThrow, type Resource } from '../src/index.js';
import { deployment, edit, pod, service } from './helpers.js';

const messages = (oldObj: unknown, newObj: unknown): string[] =>
  validateUpdate(applyDefaults(oldObj) as Resource, applyDefaults(newObj)).map((e) => e.message);

const RULE =
  'pod updates may not change fields other than `spec.containers[*].image`, `spec.tolerations` (only additions) and `spec.nodeName` (only to set it once)';

describe('validateUpdate', () => {
  it('an unchanged object is a valid update', () => {
    for (const obj of [pod(), deployment(), service()]) expect(messages(obj, obj)).toEqual([]);
  });

  it('also reports what validate reports', () => {
    expect(messages(deployment(), edit(deployment(), (d) => (d.spec.replicas = -1)))).toEqual([
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });

  it('name, namespace and kind are immutable', () => {
    expect(messages(pod(), edit(pod(), (p) => (p.metadata.name = 'other')))).toEqual(['metadata.name: Invalid value: "other": field is immutable']);
    expect(messages(pod(), edit(pod(), (p) => (p.metadata.namespace = 'other')))).toEqual([
      'metadata.namespace: Invalid value: "other": field is immutable',
    ]);
    expect(messages(pod(), edit(service(), (s) => (s.metadata.name = 'web-1')))).toEqual(['kind: Invalid value: "Service": field is immutable']);
  });

  it('uid and creationTimestamp may not change once set', () => {
    const old = edit(pod(), (p) => Object.assign(p.metadata, { uid: 'a', creationTimestamp: '2024-05-01T10:00:00Z' }));
    expect(messages(old, edit(old, (p) => (p.metadata.uid = 'b')))).toEqual(['metadata.uid: Invalid value: "b": field is immutable']);
  });

  it('labels and annotations of a pod may change', () => {
    expect(messages(pod(), edit(pod(), (p) => (p.metadata.labels = { ready: 'yes' })))).toEqual([]);
  });

  it('pod spec is immutable except image, added tolerations, and nodeName once', () => {
    expect(messages(pod(), edit(pod(), (p) => (p.spec.containers[0].command = ['node', 'other.js'])))).toEqual([
      `spec.containers[0].command[1]: Forbidden: ${RULE}`,
    ]);
    expect(messages(pod(), edit(pod(), (p) => (p.spec.containers[0].image = 'node:22')))).toEqual([]);
    expect(messages(pod(), edit(pod(), (p) => (p.spec.tolerations = [{ operator: 'Exists' }])))).toEqual([]);
    const tolerating = edit(pod(), (p) => (p.spec.tolerations = [{ operator: 'Exists' }]));
    expect(messages(tolerating, pod())).toEqual([`spec.tolerations: Forbidden: ${RULE}`]);
    const bound = edit(pod(), (p) => (p.spec.nodeName = 'pi-1'));
    expect(messages(pod(), bound)).toEqual([]);
    expect(messages(bound, edit(pod(), (p) => (p.spec.nodeName = 'pi-2')))).toEqual([`spec.nodeName: Forbidden: ${RULE}`]);
    expect(messages(bound, pod())).toEqual([`spec.nodeName: Forbidden: ${RULE}`]);
  });

  it('pod status may change freely', () => {
    expect(messages(pod(), edit(pod(), (p) => (p.status = { phase: 'Running', podIP: '127.0.0.11' })))).toEqual([]);
  });

  it('workload selectors are immutable, the rest of the spec is not', () => {
    const next = edit(deployment(), (d) => {
      d.spec.selector.matchLabels.tier = 'front';
      d.spec.template.metadata.labels.tier = 'front';
    });
    expect(messages(deployment(), next)).toEqual(['spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable']);
    expect(messages(deployment(), edit(deployment(), (d) => (d.spec.replicas = 10)))).toEqual([]);
  });

  it('a Service keeps its clusterIP and nodePorts', () => {
    const old = edit(service(), (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '10.96.0.10';
      s.spec.ports[0].nodePort = 30080;
    });
    expect(messages(old, edit(old, (s) => (s.spec.clusterIP = '10.96.0.11')))).toEqual([
      'spec.clusterIP: Invalid value: "10.96.0.11": field is immutable',
    ]);
    expect(messages(old, edit(old, (s) => delete s.spec.clusterIP))).toEqual(['spec.clusterIP: Invalid value: "": field is immutable']);
    expect(messages(old, edit(old, (s) => (s.spec.ports[0].nodePort = 30081)))).toEqual([
      'spec.ports[0].nodePort: Invalid value: 30081: field is immutable',
    ]);
    expect(messages(service(), edit(service(), (s) => (s.spec.clusterIP = '10.96.0.10')))).toEqual([]); // allocation
    expect(messages(old, edit(old, (s) => (s.spec.ports[0].targetPort = 9090)))).toEqual([]);
  });

  it('an immutable ConfigMap or Secret keeps its data', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' }, immutable: true };
    expect(messages(cm, edit(cm, (c) => (c.data.a = '2')))).toEqual(['data: Forbidden: field is immutable when `immutable` is set']);
    expect(messages(cm, edit(cm, (c) => (c.immutable = false)))).toEqual(['immutable: Forbidden: field is immutable when `immutable` is set']);
    expect(messages(cm, edit(cm, (c) => (c.metadata.labels = { a: 'b' })))).toEqual([]);
    const mutable = edit(cm, (c) => delete c.immutable);
    expect(messages(mutable, edit(mutable, (c) => (c.data.a = '2')))).toEqual([]);
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'YQ==' } };
    expect(messages(secret, edit(secret, (s) => (s.type = 'bramble.io/token')))).toEqual(['type: Invalid value: "bramble.io/token": field is immutable']);
  });

  it('no new finalizers once deletion started', () => {
    const deleting = edit(pod(), (p) => Object.assign(p.metadata, { deletionTimestamp: '2024-05-01T10:00:00Z', finalizers: ['bramble.io/a'] }));
    expect(messages(deleting, edit(deleting, (p) => (p.metadata.finalizers = [])))).toEqual([]);
    expect(messages(deleting, edit(deleting, (p) => p.metadata.finalizers.push('bramble.io/b')))).toEqual([
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ["bramble.io/b"]',
    ]);
  });

  it('validateUpdateOrThrow throws Invalid', () => {
    const old = applyDefaults(pod());
    expect(() => validateUpdateOrThrow(old, edit(old, (p: any) => (p.metadata.name = 'x')))).toThrow(
      'Pod "x" is invalid: metadata.name: Invalid value: "x": field is immutable',
    );
  });
});
