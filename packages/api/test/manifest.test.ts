import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifestDocuments, parseManifests, type Deployment, type Secret } from '../src/index.js';
import { fixture } from './helpers.js';

function problems(text: string, source?: string): ManifestError {
  try {
    parseManifests(text, source);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('parseManifests', () => {
  it('reads multi-document YAML into typed objects, as written', () => {
    const [d, s] = parseManifests(fixture('hello.yaml'), 'hello.yaml');
    expect(d.kind).toBe('Deployment');
    expect(s.kind).toBe('Service');
    const dep = d as Deployment;
    expect(dep.spec.replicas).toBe(3);
    expect(dep.spec.template.spec.containers[0].command).toEqual(['node', 'server.js']);
    expect(dep.spec.strategy).toBeUndefined(); // not defaulted unless asked
    expect(dep.metadata.namespace).toBeUndefined();
  });

  it('returns defaulted objects when asked', () => {
    const [d] = parseManifests(fixture('hello.yaml'), 'hello.yaml', { defaults: true }) as [Deployment];
    expect(d.metadata.namespace).toBe('default');
    expect(d.spec.strategy?.type).toBe('RollingUpdate');
  });

  it('reads the whole to-do app', () => {
    const objects = ['todo/redis-master.yaml', 'todo/redis-replicas.yaml', 'todo/web.yaml', 'todo/config.yaml', 'todo/secret.yaml'].flatMap((f) =>
      parseManifests(fixture(f), f),
    );
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/redis-master',
      'Service/redis-master',
      'Deployment/redis-replica',
      'Service/redis-replica',
      'Deployment/todo-web',
      'Service/todo-web',
      'ConfigMap/todo-config',
      'Secret/todo-secret',
    ]);
    expect(objects.filter((o): o is Deployment => o.kind === 'Deployment').map((d) => d.spec.replicas)).toEqual([1, 2, 3]);
  });

  it('reads JSON and kind: List', () => {
    const docs = parseManifestDocuments(fixture('list.json'), 'list.json');
    expect(docs.map((d) => [d.object.kind, d.document, d.item, d.line, d.label])).toEqual([
      ['ConfigMap', 1, 0, 5, 'list.json (document 1, items[0], ConfigMap "a")'],
      ['Service', 1, 1, 11, 'list.json (document 1, items[1], Service "b")'],
    ]);
  });

  it('reads a YAML List and a top-level sequence', () => {
    const list = 'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n';
    expect(parseManifests(list).map((o) => o.metadata.name)).toEqual(['a', 'b']);
    const seq = '- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n';
    expect(parseManifests(seq).map((o) => o.metadata.name)).toEqual(['a']);
  });

  it('skips empty documents and comments, keeps document numbers as in the file', () => {
    const text = '---\n# nothing here\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n';
    const docs = parseManifestDocuments(text, 'ns.yaml');
    expect(docs.map((d) => [d.document, d.line, d.label])).toEqual([[2, 4, 'ns.yaml (document 2, Namespace "a")']]);
    expect(parseManifests('')).toEqual([]);
    expect(parseManifests('# just a comment\n')).toEqual([]);
  });

  it('accepts what kubectl create --dry-run -o yaml prints (creationTimestamp: null, empty objects)', () => {
    const [d] = parseManifests(fixture('kubectl-generated.yaml')) as [Deployment];
    expect(d.metadata).toEqual({ labels: { app: 'web' }, name: 'web' });
  });

  it('reads YAML like kubectl: 0644 is octal, times and 12:30 stay strings', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: p, creationTimestamp: 2024-05-01T10:00:00Z}
spec:
  containers:
  - name: c
    command: [run]
    env: [{name: AT, value: 12:30}]
  volumes: [{name: v, secret: {secretName: s, defaultMode: 0644}}]
`;
    const [pod] = parseManifests(text) as any[];
    expect(pod.metadata.creationTimestamp).toBe('2024-05-01T10:00:00Z');
    expect(pod.spec.containers[0].env[0].value).toBe('12:30');
    expect(pod.spec.volumes[0].secret.defaultMode).toBe(0o644);
  });

  it('Secret stringData is kept as written (the server encodes it)', () => {
    const [s] = parseManifests(fixture('todo/secret.yaml')) as [Secret];
    expect(s.stringData).toEqual({ 'redis-password': 'not-so-secret' });
    const [d] = parseManifests(fixture('todo/secret.yaml'), undefined, { defaults: true }) as [Secret];
    expect(d.stringData).toBeUndefined();
    expect(Buffer.from(d.data!['redis-password'], 'base64').toString()).toBe('not-so-secret');
  });
});

describe('manifest errors name the file, the document, the object and the field', () => {
  const bad = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ok
spec:
  selector: {matchLabels: {app: ok}}
  template:
    metadata: {labels: {app: ok}}
    spec:
      containers: [{name: ok, command: [run]}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        command: [node, server.js]
        ports:
        - containerPort: 8080
          hostPort: 80
`;

  it('prefixes each field error and gives its line', () => {
    const e = problems(bad, 'hello.yaml');
    expect(e.code).toBe('Invalid');
    expect(e.message).toBe(
      [
        'hello.yaml (document 2, Deployment "web"): spec.replicas: Invalid value: -1: must be greater than or equal to 0',
        'hello.yaml (document 2, Deployment "web"): spec.template.spec.containers[0].ports[0].hostPort: Unsupported field "hostPort": Bramble does not support this Kubernetes field',
      ].join('\n'),
    );
    expect(e.problems.map((p) => [p.document, p.kind, p.name, p.line, p.column, p.fieldError?.field])).toEqual([
      [2, 'Deployment', 'web', 17, 13, 'spec.replicas'],
      [2, 'Deployment', 'web', 27, 21, 'spec.template.spec.containers[0].ports[0].hostPort'],
    ]);
    expect(e.fieldErrors).toHaveLength(2);
  });

  it('without a source the prefix is the document', () => {
    expect(problems(bad).problems[0].message).toBe(
      'document 2 (Deployment "web"): spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    );
  });

  it('a missing field points at its parent; an unknown kind is reported by name', () => {
    const e = problems('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  selector: {matchLabels: {a: b}}\n', 'x.yaml');
    expect(e.problems.map((p) => [p.message, p.line])).toEqual([['x.yaml (document 1, Deployment "x"): spec.template: Required value', 6]]);
    const k = problems('apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\n', 'db.yaml');
    expect(k.problems[0].message).toMatch(/^db\.yaml \(document 1, StatefulSet "db"\): kind: Unsupported value: "StatefulSet": supported values: "Namespace", /);
  });

  it('reports YAML syntax errors with line and column, and keeps checking other documents', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n   labels: {}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: C}\n';
    const e = problems(text, 'ns.yaml');
    expect(e.code).toBe('BadRequest');
    expect(e.problems.map((p) => [p.document, p.line, p.column])).toEqual([
      [2, 8, 9],
      [2, 8, 9],
      [3, 13, 18],
    ]);
    expect(e.problems[0].message).toBe('ns.yaml (document 2): line 8, column 9: YAML syntax error: Nested mappings are not allowed in compact mappings');
    expect(e.problems[2].message).toMatch(/^ns\.yaml \(document 3, Namespace "C"\): metadata\.name: Invalid value: "C": a lowercase RFC 1123 label/);
  });

  it('reports duplicate keys, unterminated flows and tabs', () => {
    expect(problems('a: 1\na: 2\n', 'dup.yaml').problems[0].message).toBe('dup.yaml (document 1): line 2, column 1: YAML syntax error: Map keys must be unique');
    expect(problems('items: [1, 2\n', 'flow.yaml').problems[0].message).toMatch(/^flow\.yaml \(document 1\): line 2, column 1: YAML syntax error: /);
    expect(problems('a:\n\tb: 1\n', 'tab.yaml').problems[0].line).toBe(2);
  });

  it('refuses documents that are not mappings, and unknown List fields', () => {
    expect(problems('just a string\n', 's.yaml').message).toBe('s.yaml (document 1): must be a mapping with apiVersion, kind and metadata, not a string ("just a string")');
    expect(problems('apiVersion: v1\nkind: List\nitem: []\n', 'l.yaml').message).toBe(
      'l.yaml (document 1, List): item: Unsupported field "item"\nl.yaml (document 1, List): items: Required value',
    );
  });

  it('validation can be skipped; YAML must still parse', () => {
    expect(parseManifests(bad, 'hello.yaml', { validate: false })).toHaveLength(2);
    expect(() => parseManifests('a: [', 'x.yaml', { validate: false })).toThrow(ManifestError);
  });
});
