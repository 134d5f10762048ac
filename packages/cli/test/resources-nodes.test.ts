// describe, delete, scale, cordon/uncordon/drain, logs, top and token against the fakes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Deployment, Node, Pod, ReplicaSet } from '@bramble/api';
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

function stop(): void {
  fake.stop();
  kubelet.stop();
  cli.cleanup();
}

function pod(name: string, opts: { node?: string; owner?: { kind: string; name: string; uid?: string }; containers?: string[]; labels?: Record<string, string>; phase?: Pod['status']['phase'] } = {}): Pod {
  const containers = opts.containers ?? ['app'];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: opts.owner.kind, name: opts.owner.name, uid: opts.owner.uid ?? `uid-of-${opts.owner.name}`, controller: true }] } : {}),
    },
    spec: { containers: containers.map((c) => ({ name: c, command: ['node', 'app.js'] })), ...(opts.node ? { nodeName: opts.node } : {}) },
    status: { phase: opts.phase ?? 'Running', containerStatuses: containers.map((c) => ({ name: c, ready: true, restartCount: 0, state: { running: {} } })) },
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

const deployment = (replicas: number): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', command: ['node'] }] } },
  },
});

describe('with graceless deletion', () => {
  beforeEach(() => start());
  afterEach(stop);

  it('describe: sections and the events about the object, oldest first', async () => {
    await fake.put(node('node1'));
    const p = await fake.put(pod('web-1', { node: 'node1', labels: { app: 'web' } }));
    const t0 = Date.now();
    const involved = { kind: 'Pod', namespace: 'default', name: 'web-1', uid: p.metadata.uid };
    await fake.store.recordEvent({ involvedObject: involved, type: 'Normal', reason: 'Started', message: 'Started container app', component: 'kubelet', timeMs: t0 - 5_000 });
    await fake.store.recordEvent({ involvedObject: involved, type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned default/web-1 to node1', component: 'default-scheduler', timeMs: t0 - 20_000 });
    await fake.store.recordEvent({ involvedObject: { ...involved, name: 'web-2', uid: 'x' }, type: 'Warning', reason: 'BackOff', message: 'not mine', component: 'kubelet', timeMs: t0 });
    const r = await cli.run([...server, 'describe', 'pod', 'web-1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Name:\s+web-1\nNamespace:\s+default\nLabels:\s+app=web\n/);
    expect(r.stdout).toMatch(/\nNode:\s+node1\n/);
    expect(r.stdout).toMatch(/\nContainers:\n  app:\n/);
    expect(r.stdout).toMatch(/\nEvents:\n  LAST SEEN\s+TYPE\s+REASON\s+FROM\s+MESSAGE\n  -+\s+-+\s+-+\s+-+\s+-+\n  2\ds\s+Normal\s+Scheduled\s+default-scheduler\s+Successfully assigned default\/web-1 to node1\n  \ds\s+Normal\s+Started\s+kubelet\s+Started container app\n$/);
    expect(r.stdout).not.toContain('not mine');
    expect(await cli.run([...server, 'describe', 'pod', 'nope'])).toEqual({ code: 1, stdout: '', stderr: 'Error from server (NotFound): pods "nope" not found\n' });
    const nodeText = (await cli.run([...server, 'describe', 'node', 'node1'])).stdout;
    expect(nodeText).toMatch(/Non-terminated Pods:\s+\(1 in total\)\n/);
    expect(nodeText).toMatch(/\n  default\s+web-1\s/);
  });

  it('delete by name, by label, by manifest; NotFound; --ignore-not-found', async () => {
    await fake.put(pod('a', { labels: { app: 'x' } }));
    await fake.put(pod('b', { labels: { app: 'x' } }));
    await fake.put(pod('c'));
    expect(await cli.run([...server, 'delete', 'pod', 'c'])).toEqual({ code: 0, stdout: 'pod "c" deleted\n', stderr: '' });
    expect(await cli.run([...server, 'delete', 'pods', '-l', 'app=x'])).toEqual({ code: 0, stdout: 'pod "a" deleted\npod "b" deleted\n', stderr: '' });
    expect(await fake.store.list('Pod')).toEqual([]);
    expect(await cli.run([...server, 'delete', 'po', 'ghost'])).toEqual({ code: 1, stdout: '', stderr: 'Error from server (NotFound): pods "ghost" not found\n' });
    expect(await cli.run([...server, 'delete', 'po', 'ghost', '--ignore-not-found'])).toEqual({ code: 0, stdout: '', stderr: '' });
    await fake.put(deployment(1));
    const manifest = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, command: [node]}]}\n`;
    // Orphan: the object keeps a finalizer until the garbage collector (absent here) releases its dependents.
    expect((await cli.run([...server, 'delete', '-f', '-', '--cascade=orphan', '--wait=false'], { stdin: manifest })).stdout).toBe('deployment.apps "web" deleted\n');
    expect((await fake.get('Deployment', 'default', 'web'))?.metadata.finalizers).toEqual(['orphan']);
    expect(await cli.run([...server, 'delete', 'pods'])).toMatchObject({ code: 2, stderr: expect.stringContaining('resource name(s) required') });
    expect(await cli.run([...server, 'delete', 'pod', 'x', '--cascade', 'sideways'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--cascade: must be background, foreground or orphan') });
  });

  it('scale patches spec.replicas; other kinds are refused', async () => {
    await fake.put(deployment(1));
    expect(await cli.run([...server, 'scale', 'deploy', 'web', '--replicas', '4'])).toEqual({ code: 0, stdout: 'deployment.apps/web scaled\n', stderr: '' });
    expect((await fake.get('Deployment', 'default', 'web'))?.spec.replicas).toBe(4);
    expect((await cli.run([...server, 'scale', 'deployment/web', '--replicas=0'])).stdout).toBe('deployment.apps/web scaled\n');
    expect((await fake.get('Deployment', 'default', 'web'))?.spec.replicas).toBe(0);
    const wrong = await cli.run([...server, 'scale', 'deploy', 'web', '--replicas', '2', '--current-replicas', '3']);
    expect(wrong).toMatchObject({ code: 1, stderr: 'error: Expected replicas to be 3, was 0\n' });
    expect(await cli.run([...server, 'scale', 'pod', 'x', '--replicas', '2'])).toMatchObject({ code: 1, stderr: 'error: cannot scale pods: only deployments and replicasets have replicas\n' });
    expect(await cli.run([...server, 'scale', 'deploy', 'nope', '--replicas', '2'])).toEqual({ code: 1, stdout: '', stderr: 'Error from server (NotFound): deployments.apps "nope" not found\n' });
    expect((await cli.run([...server, 'scale', 'deploy', 'web'])).code).toBe(2);
  });

  it('cordon and uncordon set and clear spec.unschedulable', async () => {
    await fake.put(node('node1'));
    expect((await cli.run([...server, 'cordon', 'node1'])).stdout).toBe('node/node1 cordoned\n');
    expect((await fake.get('Node', undefined, 'node1'))?.spec?.unschedulable).toBe(true);
    expect((await cli.run([...server, 'cordon', 'node1'])).stdout).toBe('node/node1 already cordoned\n');
    expect((await cli.run([...server, 'get', 'nodes'])).stdout).toMatch(/node1\s+Ready,SchedulingDisabled\s/);
    expect((await cli.run([...server, 'uncordon', 'node/node1'])).stdout).toBe('node/node1 uncordoned\n');
    expect((await fake.get('Node', undefined, 'node1'))?.spec?.unschedulable).toBeUndefined();
    expect(await cli.run([...server, 'cordon', 'ghost'])).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): nodes "ghost" not found\n' });
  });

  it('drain refuses unmanaged and DaemonSet pods without the flags (but stays cordoned), then evicts with them', async () => {
    await fake.put(node('node1'));
    await fake.put(node('node2'));
    await fake.put(pod('web-1', { node: 'node1', owner: { kind: 'ReplicaSet', name: 'web-abc' } }));
    await fake.put(pod('lonely', { node: 'node1' }));
    await fake.put(pod('agent-x', { node: 'node1', owner: { kind: 'DaemonSet', name: 'agent' } }));
    await fake.put(pod('elsewhere', { node: 'node2' }));
    const refused = await cli.run([...server, 'drain', 'node1']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('node/node1 cordoned\n');
    expect(refused.stderr).toContain('cannot delete Pods that declare no controller (use --force to override): default/lonely');
    expect(refused.stderr).toContain('cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-x');
    expect((await fake.store.list('Pod')).map((p) => p.metadata.name)).toEqual(['agent-x', 'elsewhere', 'lonely', 'web-1']);
    expect((await fake.get('Node', undefined, 'node1'))?.spec?.unschedulable).toBe(true);

    const onlyDs = await cli.run([...server, 'drain', 'node1', '--ignore-daemonsets']);
    expect(onlyDs.code).toBe(1);
    expect(onlyDs.stderr).toContain('default/lonely');
    expect(onlyDs.stderr).not.toContain('agent-x');

    const r = await cli.run([...server, 'drain', 'node1', '--ignore-daemonsets', '--force']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Warning: deleting Pods that declare no controller: default/lonely\nWarning: ignoring DaemonSet-managed Pods: default/agent-x\n');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('node/node1 already cordoned');
    expect(lines.filter((l) => l.startsWith('evicting pod')).sort()).toEqual(['evicting pod default/lonely', 'evicting pod default/web-1']);
    expect(lines.filter((l) => l.endsWith('evicted')).sort()).toEqual(['pod/lonely evicted', 'pod/web-1 evicted']);
    expect(r.stdout.endsWith('node/node1 drained\n')).toBe(true);
    expect((await fake.store.list('Pod')).map((p) => p.metadata.name)).toEqual(['agent-x', 'elsewhere']);
  });

  it('logs: from the kubelet of the pod\'s node; --tail; -c; -f streams until Ctrl-C', async () => {
    await fake.put(node('node1', { kubeletPort: kubelet.port }));
    await fake.put(pod('web-1', { node: 'node1', containers: ['app', 'side'] }));
    await fake.put(pod('solo', { node: 'node1' }));
    await fake.put(pod('unbound'));
    kubelet.logs.set('default/web-1/app', 'one\ntwo\nthree\n');
    kubelet.logs.set('default/web-1/side', 'side log\n');
    kubelet.logs.set('default/solo/app', 'solo\n');
    kubelet.previousLogs.set('default/solo/app', 'before the crash\n');

    expect(await cli.run([...server, 'logs', 'solo'])).toEqual({ code: 0, stdout: 'solo\n', stderr: '' });
    expect((await cli.run([...server, 'logs', 'pod/solo', '-p'])).stdout).toBe('before the crash\n');
    expect(await cli.run([...server, 'logs', 'web-1', '--tail', '2'])).toEqual({ code: 0, stdout: 'two\nthree\n', stderr: 'Defaulted container "app" out of: app, side\n' });
    expect((await cli.run([...server, 'logs', 'web-1', '-c', 'side'])).stdout).toBe('side log\n');
    expect(await cli.run([...server, 'logs', 'web-1', '-c', 'nope'])).toMatchObject({ code: 1, stderr: 'error: container nope is not valid for pod web-1\n' });
    expect(await cli.run([...server, 'logs', 'unbound'])).toMatchObject({ code: 1, stderr: 'error: pod "unbound" is not scheduled to a node yet: it has no logs\n' });
    await fake.put(pod('nolog', { node: 'node1' }));
    expect(await cli.run([...server, 'logs', 'nolog'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: logs of pod default/nolog (container "app") from kubelet 127.0.0.1:${kubelet.port}: NOT_FOUND: container "app" of pod default/nolog has no log on this node\n`,
    });
    expect(kubelet.requests.find((r) => r.has_tail)).toMatchObject({ namespace: 'default', pod: 'web-1', container: 'app', tail_lines: 2, follow: false });

    let out = '';
    const following = cli.run([...server, 'logs', 'solo', '-f'], { onStdout: (all) => (out = all) });
    await waitFor('the follower', () => kubelet.followerCount === 1 && cli.interruptible && out === 'solo\n');
    kubelet.append('default/solo/app', 'more\n');
    await waitFor('the new line', () => out === 'solo\nmore\n');
    cli.interrupt();
    expect(await following).toEqual({ code: 0, stdout: 'solo\nmore\n', stderr: '' });
    await waitFor('the follower to go', () => kubelet.followerCount === 0);
  });

  it('logs from a node without a kubelet port, or a kubelet that is down, fail clearly', async () => {
    await fake.put(node('node1'));
    await fake.put(pod('a', { node: 'node1' }));
    expect(await cli.run([...server, 'logs', 'a'])).toMatchObject({
      code: 1,
      stderr: 'error: node "node1" publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.Port): cannot reach its kubelet\n',
    });
    const port = kubelet.port;
    kubelet.stop();
    await fake.put(node('node1', { kubeletPort: port }));
    const down = await cli.run([...server, '--timeout', '1s', 'logs', 'a']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: logs of pod default\/a .*UNAVAILABLE: cannot connect to the node's kubelet/);
  });

  it('top nodes and top pods from every Ready node', async () => {
    await fake.put(node('node1', { kubeletPort: kubelet.port }));
    await fake.put(node('node2', { ready: false, kubeletPort: kubelet.port }));
    kubelet.stats = {
      node_name: 'node1',
      cpu_millicores: 250,
      memory_bytes: 512 * 1024 * 1024,
      agent_memory_bytes: 40 * 1024 * 1024,
      pods: [
        { namespace: 'default', name: 'web-1', containers: [{ name: 'app', cpu_millicores: 120, memory_bytes: 100 * 1024 * 1024 }] },
        { namespace: 'shop', name: 'cart-1', containers: [{ name: 'app', cpu_millicores: 30, memory_bytes: 20 * 1024 * 1024 }] },
      ],
    };
    expect((await cli.run([...server, 'top', 'nodes'])).stdout).toBe(
      'NAME    CPU(cores)   CPU%        MEMORY(bytes)   MEMORY%\nnode1   250m         6%          512Mi           13%\nnode2   <unknown>    <unknown>   <unknown>       <unknown>\n',
    );
    expect((await cli.run([...server, 'top', 'pods'])).stdout).toBe('NAME    CPU(cores)   MEMORY(bytes)\nweb-1   120m         100Mi\n');
    expect((await cli.run([...server, 'top', 'pods', '-A'])).stdout).toBe('NAMESPACE   NAME     CPU(cores)   MEMORY(bytes)\ndefault     web-1    120m         100Mi\nshop        cart-1   30m          20Mi\n');
    expect(await cli.run([...server, 'top', 'pods', '-n', 'empty'])).toEqual({ code: 0, stdout: '', stderr: 'No resources found in empty namespace.\n' });
  });

  it('token create, list, delete', async () => {
    const created = await cli.run([...server, 'token', 'create', '--ttl', '2h', '--description', 'for node7']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}\n$/);
    const id = created.stdout.slice(0, 6);
    expect(fake.tokens.get(id)).toMatchObject({ description: 'for node7' });
    const list = await cli.run([...server, 'token', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^ID\\s+TTL\\s+EXPIRES\\s+CREATED\\s+DESCRIPTION\\n${id}\\s+(119m|120m)\\s+\\S+\\s+\\S+\\s+for node7\\n$`));
    expect((await cli.run([...server, 'token', 'create', '--ttl', '0'])).code).toBe(0);
    expect(await cli.run([...server, 'token', 'delete', `${created.stdout.trim()}`])).toEqual({ code: 0, stdout: `bootstrap token "${id}" deleted\n`, stderr: '' });
    expect(fake.tokens.has(id)).toBe(false);
    expect(await cli.run([...server, 'token', 'delete', 'BAD!'])).toMatchObject({ code: 2 });
    expect((await cli.run([...server, 'token', 'create', '--ttl', 'soon'])).code).toBe(2);
  });
});

describe('with graceful pod deletion', () => {
  beforeEach(() => start({ gracefulPodDeletion: true }));
  afterEach(stop);

  it('delete waits until the node confirms the pod stopped; --wait=false does not; --force removes at once', async () => {
    await fake.put(node('node1'));
    await fake.put(pod('a', { node: 'node1' }));
    await fake.put(pod('b', { node: 'node1' }));
    await fake.put(pod('c', { node: 'node1' }));
    let out = '';
    const deleting = cli.run([...server, 'delete', 'pod', 'a'], { onStdout: (all) => (out = all) });
    await waitFor('the delete to be sent', () => out === 'pod "a" deleted\n');
    expect((await fake.get('Pod', 'default', 'a'))?.metadata.deletionTimestamp).toBeDefined();
    expect((await cli.run([...server, 'get', 'pods', 'a'])).stdout).toMatch(/\na\s+1\/1\s+Terminating\s/);
    await fake.finishPodDeletion('default', 'a');
    expect(await deleting).toEqual({ code: 0, stdout: 'pod "a" deleted\n', stderr: '' });

    expect(await cli.run([...server, 'delete', 'pod', 'b', '--wait=false'])).toEqual({ code: 0, stdout: 'pod "b" deleted\n', stderr: '' });
    expect(await fake.get('Pod', 'default', 'b')).toBeDefined();

    const timedOut = await cli.run([...server, '--timeout', '300ms', 'delete', 'pod', 'b']);
    expect(timedOut).toMatchObject({ code: 1, stderr: 'error: timed out after 300 ms waiting for pod "b" to be deleted\n' });

    const forced = await cli.run([...server, 'delete', 'pod', 'c', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain('Warning: Immediate deletion does not wait for confirmation');
    expect(await fake.get('Pod', 'default', 'c')).toBeUndefined();
  });

  it('drain waits for its pods to be gone', async () => {
    await fake.put(node('node1'));
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-abc', namespace: 'default' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', command: ['node'] }] } } },
    };
    const owner = await fake.put(rs);
    await fake.put(pod('web-1', { node: 'node1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-abc', uid: owner.metadata.uid } }));
    let out = '';
    const draining = cli.run([...server, 'drain', 'node1'], { onStdout: (all) => (out = all) });
    await waitFor('the eviction', () => out.includes('evicting pod default/web-1\n'));
    expect(out).not.toContain('drained');
    await fake.finishPodDeletion('default', 'web-1');
    const r = await draining;
    expect(r).toEqual({ code: 0, stdout: 'node/node1 cordoned\nevicting pod default/web-1\npod/web-1 evicted\nnode/node1 drained\n', stderr: '' });
  });
});
