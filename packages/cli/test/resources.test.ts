// The kubectl-like commands in-process against a fake Resources/Tokens server and a fake
// node Kubelet (resources-fake.ts): what they print, what they change, and their errors.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Deployment, Node, Pod } from '@bramble/api';
import { CliHarness, waitFor } from './harness.js';
import { FakeKubelet, FakeResources } from './resources-fake.js';

let fake: FakeResources;
let kubelet: FakeKubelet;
let cli: CliHarness;
let server: string[];

async function start(opts: { gracefulPodDeletion?: boolean } = {}): Promise<void> {
  fake = new FakeResources(opts);
  await fake.start();
  kubelet = new FakeKubelet();
  await kubelet.start();
  cli = new CliHarness();
  server = ['--server', fake.address];
}

beforeEach(async () => {
  await start();
});

afterEach(() => {
  fake.stop();
  kubelet.stop();
  cli.cleanup();
});

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: node:20
        command: [node, server.js]
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
`;

function file(name: string, text: string): string {
  const path = join(cli.home, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function pod(name: string, opts: { labels?: Record<string, string>; namespace?: string; node?: string; owner?: { kind: string; name: string }; containers?: string[]; phase?: Pod['status'] } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: opts.owner.kind, name: opts.owner.name, uid: `uid-of-${opts.owner.name}`, controller: true }] } : {}),
    },
    spec: { containers: (opts.containers ?? ['app']).map((c) => ({ name: c, command: ['node', 'app.js'] })), ...(opts.node ? { nodeName: opts.node } : {}) },
    status: opts.phase ?? { phase: 'Running', containerStatuses: (opts.containers ?? ['app']).map((c) => ({ name: c, ready: true, restartCount: 0, state: { running: {} } })) },
  };
}

function node(name: string, opts: { ready?: boolean; kubeletPort?: number } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      allocatable: { cpu: '4', memory: '4Gi', pods: '110' },
      nodeInfo: { kubeletVersion: 'v0.1.0' },
      ...(opts.kubeletPort ? { daemonEndpoints: { kubeletEndpoint: { Port: opts.kubeletPort } } } : {}),
    },
  };
}

describe('apply and create', () => {
  it('created, then unchanged, then configured; a directory is read in name order', async () => {
    const dir = join(cli.home, 'app');
    file('app/b-service.yaml', SERVICE);
    file('app/a-deploy.yaml', DEPLOYMENT);
    file('app/notes.txt', 'not a manifest');
    expect(await cli.run([...server, 'apply', '-f', dir])).toEqual({ code: 0, stdout: 'deployment.apps/web created\nservice/web created\n', stderr: '' });
    expect(await cli.run([...server, 'apply', '-f', dir])).toEqual({ code: 0, stdout: 'deployment.apps/web unchanged\nservice/web unchanged\n', stderr: '' });
    file('app/a-deploy.yaml', DEPLOYMENT.replace('replicas: 2', 'replicas: 5'));
    expect((await cli.run([...server, 'apply', '-f', dir])).stdout).toBe('deployment.apps/web configured\nservice/web unchanged\n');
    expect((await fake.get('Deployment', 'default', 'web'))?.spec.replicas).toBe(5);
  });

  it('multi-document YAML from stdin, into the namespace given with -n', async () => {
    await fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    const r = await cli.run([...server, 'apply', '-f', '-', '-n', 'shop'], { stdin: `${DEPLOYMENT}---\n${SERVICE}` });
    expect(r).toEqual({ code: 0, stdout: 'deployment.apps/web created\nservice/web created\n', stderr: '' });
    expect(await fake.get('Service', 'shop', 'web')).toBeDefined();
    const other = await cli.run([...server, 'apply', '-f', '-', '-n', 'shop'], { stdin: SERVICE.replace('name: web', 'name: x\n  namespace: other') });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('the namespace from the provided object "other" does not match the namespace "shop"');
  });

  it('a malformed document anywhere applies nothing; the error names the file, the document and the field', async () => {
    const dir = join(cli.home, 'bad');
    file('bad/a.yaml', SERVICE);
    file('bad/b.yaml', `${SERVICE}---\n${DEPLOYMENT.replace('replicas: 2', 'replicas: -1').replace('image: node:20', 'image: node:20\n        colour: blue')}`);
    const r = await cli.run([...server, 'apply', '-f', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const b = join(dir, 'b.yaml');
    expect(r.stderr).toContain(`error: ${b} (document 2, Deployment "web"): spec.replicas: Invalid value: -1`);
    expect(r.stderr).toContain(`error: ${b} (document 2, Deployment "web"): spec.template.spec.containers[0].colour: Unsupported field "colour"`);
    expect(fake.calls.filter((c) => c === 'Apply')).toEqual([]);
    const syntax = await cli.run([...server, 'apply', '-f', file('syntax.yaml', 'kind: [oops\n')]);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/^error: .*syntax\.yaml \(document 1\): line \d+, column \d+: YAML syntax error/);
    const missing = await cli.run([...server, 'apply', '-f', join(cli.home, 'nope.yaml')]);
    expect(missing).toMatchObject({ code: 1, stderr: `error: the path ${JSON.stringify(join(cli.home, 'nope.yaml'))} does not exist\n` });
  });

  it('create: AlreadyExists is an error from the server; the other objects still go', async () => {
    const path = file('both.yaml', `${SERVICE}---\n${DEPLOYMENT}`);
    expect((await cli.run([...server, 'create', '-f', path])).stdout).toBe('service/web created\ndeployment.apps/web created\n');
    await cli.run([...server, 'delete', 'deploy', 'web']);
    const again = await cli.run([...server, 'create', '-f', path]);
    expect(again).toEqual({
      code: 1,
      stdout: 'deployment.apps/web created\n',
      stderr: `Error from server (AlreadyExists): error when creating ${JSON.stringify(path)}: services "web" already exists\n`,
    });
  });

  it('a server-side rejection prints Error from server (Invalid) and exits 1', async () => {
    const path = file('web.yaml', DEPLOYMENT);
    await cli.run([...server, 'apply', '-f', path]);
    // Valid on its own, but a Deployment's selector may not change: only the server can tell.
    file('web.yaml', DEPLOYMENT.replace(/\{app: web\}/g, '{app: web2}'));
    const r = await cli.run([...server, 'apply', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^Error from server \\(Invalid\\): error when applying ${JSON.stringify(path).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: Deployment "web" is invalid: .*spec\\.selector`));
  });

  it('-R reads nested directories; -f may repeat', async () => {
    file('tree/top.yaml', SERVICE);
    file('tree/sub/deploy.yml', DEPLOYMENT);
    file('extra.json', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1' } }));
    expect((await cli.run([...server, 'apply', '-f', join(cli.home, 'tree')])).stdout).toBe('service/web created\n');
    expect((await cli.run([...server, 'apply', '-R', '-f', join(cli.home, 'tree'), '-f', join(cli.home, 'extra.json')])).stdout).toBe(
      'deployment.apps/web created\nservice/web unchanged\nconfigmap/cfg created\n',
    );
  });

  it('-o name and -o json print the applied objects', async () => {
    const path = file('svc.yaml', SERVICE);
    expect((await cli.run([...server, 'apply', '-f', path, '-o', 'name'])).stdout).toBe('service/web\n');
    const json = JSON.parse((await cli.run([...server, 'apply', '-f', path, '-o', 'json'])).stdout);
    expect(json).toMatchObject({ kind: 'Service', metadata: { name: 'web', namespace: 'default', uid: expect.any(String) } });
  });
});

describe('get', () => {
  beforeEach(async () => {
    await fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await fake.put(pod('web-1', { labels: { app: 'web' }, node: 'node1' }));
    await fake.put(pod('web-2', { labels: { app: 'web' } , phase: { phase: 'Pending' } }));
    await fake.put(pod('db-1', { labels: { app: 'db' } }));
    await fake.put(pod('cart-1', { namespace: 'shop', labels: { app: 'cart' } }));
  });

  it('a table of the namespace, -l, -A, wide', async () => {
    const r = await cli.run([...server, 'get', 'pods']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\ndb-1\s+1\/1\s+Running\s+0\s+\d+s\nweb-1\s+1\/1\s+Running\s+0\s+\d+s\nweb-2\s+0\/1\s+Pending\s+0\s+\d+s\n$/);
    expect((await cli.run([...server, 'get', 'po', '-l', 'app=web', '-o', 'name'])).stdout).toBe('pod/web-1\npod/web-2\n');
    const all = (await cli.run([...server, 'get', 'pods', '-A'])).stdout.split('\n');
    expect(all[0]).toMatch(/^NAMESPACE\s+NAME\s+READY/);
    expect(all.slice(1, -1).map((l) => l.split(/\s+/).slice(0, 2).join('/'))).toEqual(['default/db-1', 'default/web-1', 'default/web-2', 'shop/cart-1']);
    expect((await cli.run([...server, 'get', 'pods', '-n', 'shop', '-o', 'name'])).stdout).toBe('pod/cart-1\n');
    expect((await cli.run([...server, 'get', 'pods', 'web-1', '-o', 'wide'])).stdout).toMatch(/IP\s+NODE\nweb-1 .*<none>\s+node1\n$/);
    expect((await cli.run([...server, 'get', 'pods', '--field-selector', 'spec.nodeName=node1', '-o', 'name'])).stdout).toBe('pod/web-1\n');
  });

  it('-o yaml: one named object as itself, several as a List', async () => {
    const one = YAML.parse((await cli.run([...server, 'get', 'pod', 'web-1', '-o', 'yaml'])).stdout);
    expect(one).toMatchObject({ kind: 'Pod', metadata: { name: 'web-1', labels: { app: 'web' } } });
    const list = YAML.parse((await cli.run([...server, 'get', 'pods', '-l', 'app=web', '-o', 'yaml'])).stdout);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List', items: [{ metadata: { name: 'web-1' } }, { metadata: { name: 'web-2' } }] });
  });

  it("the context's namespace is the default; -n overrides it", async () => {
    await cli.run(['config', 'set-cluster', 'c', '--server', fake.address]);
    await cli.run(['config', 'set-context', 'c', '--cluster', 'c', '--namespace', 'shop']);
    await cli.run(['config', 'use-context', 'c']);
    expect(await cli.run(['get', 'pods', '-o', 'name'])).toEqual({ code: 0, stdout: 'pod/cart-1\n', stderr: '' });
    expect((await cli.run(['get', 'pods', '-n', 'default', '-l', 'app=db', '-o', 'name'])).stdout).toBe('pod/db-1\n');
    expect(await cli.run(['get', 'deploy'])).toEqual({ code: 0, stdout: '', stderr: 'No resources found in shop namespace.\n' });
  });

  it('NotFound, unknown kinds, and empty lists', async () => {
    expect(await cli.run([...server, 'get', 'pod', 'nope'])).toEqual({ code: 1, stdout: '', stderr: 'Error from server (NotFound): pods "nope" not found\n' });
    expect(await cli.run([...server, 'get', 'foo'])).toEqual({ code: 1, stdout: '', stderr: 'error: the server doesn\'t have a resource type "foo"\n' });
    expect(await cli.run([...server, 'get', 'deploy'])).toEqual({ code: 0, stdout: '', stderr: 'No resources found in default namespace.\n' });
    expect(await cli.run([...server, 'get', 'nodes'])).toEqual({ code: 0, stdout: '', stderr: 'No resources found\n' });
    const partly = await cli.run([...server, 'get', 'pod/web-1', 'pod/nope', '-o', 'name']);
    expect(partly).toEqual({ code: 1, stdout: 'pod/web-1\n', stderr: 'Error from server (NotFound): pods "nope" not found\n' });
  });

  it('get all: every workload kind with kind/name names', async () => {
    await cli.run([...server, 'apply', '-f', '-'], { stdin: SERVICE });
    const r = await cli.run([...server, 'get', 'all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\npod\/db-1 /);
    expect(r.stdout).toMatch(/\n\nNAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nservice\/web\s+ClusterIP/);
  });

  it('-w prints the table, then a row per change, until Ctrl-C', async () => {
    let out = '';
    const running = cli.run([...server, 'get', 'pods', '-l', 'app=web', '-w'], { onStdout: (all) => (out = all) });
    await waitFor('the watch to start', () => fake.watcherCount === 1 && cli.interruptible);
    await fake.put(pod('web-3', { labels: { app: 'web' } }));
    await fake.put(pod('other', { labels: { app: 'other' } }));
    await fake.put(pod('web-3', { labels: { app: 'web' }, phase: { phase: 'Failed', reason: 'Evicted' } }));
    await waitFor('two rows for web-3', () => out.split('\n').filter((l) => l.startsWith('web-3')).length === 2);
    cli.interrupt();
    const r = await running;
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['web-1', 'web-2', 'web-3', 'web-3']);
    expect(lines[3]).toMatch(/^web-3\s+1\/1\s+Running\s/);
    expect(lines[4]).toMatch(/^web-3\s+0\/1\s+Evicted\s/);
    await waitFor('the watch to be closed', () => fake.watcherCount === 0);
  });
});
