// The kubectl-like printers as pure functions: columns of every kind, pod STATUS, AGE, -o wide, describe, top.
import { describe, expect, it } from 'vitest';
import type { DaemonSet, Deployment, Endpoints, Event, Node, Pod, ReplicaSet, Secret, Service, ConfigMap, Namespace } from '@bramble/api';
import { humanDuration, ageOf } from '../src/printers/age.js';
import { podSummary } from '../src/printers/pod-status.js';
import { printObjects, StreamingTable, tableHeaders, tableRow } from '../src/printers/table.js';
import { alignTabs } from '../src/printers/tabwriter.js';
import { describeObject } from '../src/printers/describe.js';
import { topNodesTable, topPodsTable } from '../src/printers/top.js';
import { kindRef, objectRef, pluralRef } from '../src/printers/names.js';
import { kubectlErrorText, serverErrorText } from '../src/printers/errors.js';
import { ApiError, resolveKind, type KindInfo } from '@bramble/api';

const NOW = Date.parse('2026-01-10T12:00:00Z');
const ago = (ms: number): string => new Date(NOW - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

function pod(name: string, extra: Partial<Pod> & { status?: Pod['status'] } = {}, containers = ['app']): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', creationTimestamp: ago(45 * S), uid: `uid-${name}`, ...(extra.metadata ?? {}) },
    spec: { containers: containers.map((c) => ({ name: c, image: 'node:20', command: ['node', 'server.js'] })), ...(extra.spec ?? {}) },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

const running = (name: string, restartCount = 0, ready = true) => ({ name, ready, restartCount, state: { running: { startedAt: ago(40 * S) } } });

describe('AGE', () => {
  it('rounds like kubectl', () => {
    expect(humanDuration(0)).toBe('0s');
    expect(humanDuration(-1500)).toBe('0s');
    expect(humanDuration(-5000)).toBe('<invalid>');
    expect(humanDuration(45 * S)).toBe('45s');
    expect(humanDuration(119 * S)).toBe('119s');
    expect(humanDuration(3 * M + 12 * S)).toBe('3m12s');
    expect(humanDuration(5 * M)).toBe('5m');
    expect(humanDuration(12 * M + 30 * S)).toBe('12m');
    expect(humanDuration(179 * M)).toBe('179m');
    expect(humanDuration(5 * H)).toBe('5h');
    expect(humanDuration(5 * H + 30 * M)).toBe('5h30m');
    expect(humanDuration(20 * H)).toBe('20h');
    expect(humanDuration(2 * D)).toBe('2d');
    expect(humanDuration(3 * D + 4 * H)).toBe('3d4h');
    expect(humanDuration(400 * D)).toBe('400d');
    expect(humanDuration(2 * 365 * D + 30 * D)).toBe('2y30d');
    expect(humanDuration(10 * 365 * D)).toBe('10y');
    expect(ageOf(undefined, NOW)).toBe('<unknown>');
    expect(ageOf('not a time', NOW)).toBe('<unknown>');
    expect(ageOf(ago(90 * M), NOW)).toBe('90m');
  });
});

describe('pod STATUS, READY, RESTARTS', () => {
  it('Running with all containers ready', () => {
    const p = pod('a', { status: { phase: 'Running', containerStatuses: [running('app')] } });
    expect(podSummary(p, NOW)).toMatchObject({ ready: '1/1', status: 'Running', restarts: 0, restartsCell: '0' });
  });
  it('Pending without status; READY counts spec containers', () => {
    expect(podSummary(pod('a', {}, ['a', 'b']), NOW)).toMatchObject({ ready: '0/2', status: 'Pending' });
  });
  it('ContainerCreating and CrashLoopBackOff come from the waiting reason', () => {
    const creating = pod('a', { status: { phase: 'Pending', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] } });
    expect(podSummary(creating, NOW).status).toBe('ContainerCreating');
    const crash = pod('a', {
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(2 * M) } },
          },
        ],
      },
    });
    expect(podSummary(crash, NOW)).toMatchObject({ ready: '0/1', status: 'CrashLoopBackOff', restarts: 4, restartsCell: '4 (2m ago)' });
  });
  it('Completed, Error, exit codes and signals from terminated containers', () => {
    const done = pod('a', { status: { phase: 'Succeeded', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } });
    expect(podSummary(done, NOW).status).toBe('Completed');
    const code = pod('a', { status: { phase: 'Failed', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 3 } } }] } });
    expect(podSummary(code, NOW).status).toBe('ExitCode:3');
    const sig = pod('a', { status: { phase: 'Failed', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, signal: 9 } } }] } });
    expect(podSummary(sig, NOW).status).toBe('Signal:9');
  });
  it('one container Completed while another runs: Running if the pod is Ready, else NotReady', () => {
    const statuses = [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('b')];
    const notReady = pod('x', { status: { phase: 'Running', containerStatuses: statuses } }, ['a', 'b']);
    expect(podSummary(notReady, NOW)).toMatchObject({ status: 'NotReady', ready: '1/2' });
    const ready = pod('x', { status: { phase: 'Running', containerStatuses: statuses, conditions: [{ type: 'Ready', status: 'True' }] } }, ['a', 'b']);
    expect(podSummary(ready, NOW).status).toBe('Running');
  });
  it('Terminating while being deleted; Unknown for a lost node', () => {
    const p = pod('a', { metadata: { name: 'a', deletionTimestamp: ago(1 * S) }, status: { phase: 'Running', containerStatuses: [running('app')] } });
    expect(podSummary(p, NOW).status).toBe('Terminating');
    const lost = pod('a', { metadata: { name: 'a', deletionTimestamp: ago(1 * S) }, status: { phase: 'Running', reason: 'NodeLost' } });
    expect(podSummary(lost, NOW).status).toBe('Unknown');
  });
  it('status.reason wins over the phase (Evicted)', () => {
    expect(podSummary(pod('a', { status: { phase: 'Failed', reason: 'Evicted' } }), NOW).status).toBe('Evicted');
  });
});

describe('get tables', () => {
  it('pods, with -o wide and -A', () => {
    const pods = [
      pod('web-1', { spec: { containers: [{ name: 'app', command: ['x'] }], nodeName: 'node1' }, status: { phase: 'Running', podIP: '127.0.0.11', containerStatuses: [running('app', 0)] } }),
      pod('web-2', {}),
    ];
    expect(printObjects('Pod', pods, { nowMs: NOW })).toBe(
      ['NAME    READY   STATUS    RESTARTS   AGE', 'web-1   1/1     Running   0          45s', 'web-2   0/1     Pending   0          45s', ''].join('\n'),
    );
    expect(printObjects('Pod', pods, { nowMs: NOW, wide: true, withNamespace: true })).toBe(
      [
        'NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP           NODE',
        'default     web-1   1/1     Running   0          45s   127.0.0.11   node1',
        'default     web-2   0/1     Pending   0          45s   <none>       <none>',
        '',
      ].join('\n'),
    );
  });

  it('deployments, replicasets, daemonsets (and their wide columns)', () => {
    const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'node:20', command: ['node'] }] } };
    const d: Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(3 * M + 12 * S) },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2, replicas: 3 },
    };
    expect(printObjects('Deployment', [d], { nowMs: NOW })).toBe('NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    2/3     3            2           3m12s\n');
    expect(printObjects('Deployment', [d], { nowMs: NOW, wide: true })).toContain('CONTAINERS   IMAGES    SELECTOR\n');
    expect(printObjects('Deployment', [d], { nowMs: NOW, wide: true })).toContain('web          node:20   app=web\n');
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-7d9f8', namespace: 'default', creationTimestamp: ago(5 * H) },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
      status: { replicas: 3, readyReplicas: 1 },
    };
    expect(printObjects('ReplicaSet', [rs], { nowMs: NOW })).toBe('NAME        DESIRED   CURRENT   READY   AGE\nweb-7d9f8   3         3         1       5h\n');
    const ds: DaemonSet = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: 'default', creationTimestamp: ago(2 * D) },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { ...template, spec: { ...template.spec, nodeSelector: { disk: 'ssd' } } } },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0 },
    };
    expect(printObjects('DaemonSet', [ds], { nowMs: NOW })).toBe(
      'NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\nagent   3         3         2       3            2           disk=ssd        2d\n',
    );
  });

  it('nodes: Ready, NotReady, SchedulingDisabled, roles, INTERNAL-IP with wide', () => {
    const node = (name: string, ready: 'True' | 'False' | undefined, unschedulable = false, labels: Record<string, string> = {}): Node => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, creationTimestamp: ago(5 * D), labels },
      spec: { unschedulable },
      status: {
        conditions: ready ? [{ type: 'Ready', status: ready }] : [],
        addresses: [{ type: 'InternalIP', address: '127.0.0.11' }],
        nodeInfo: { kubeletVersion: 'v0.1.0', osImage: 'Linux', kernelVersion: '6.1', containerRuntimeVersion: 'process://node-v20.11.1' },
      },
    });
    const nodes = [node('n1', 'True', false, { 'node-role.kubernetes.io/control-plane': '' }), node('n2', 'False'), node('n3', 'True', true), node('n4', undefined)];
    expect(printObjects('Node', nodes, { nowMs: NOW })).toBe(
      [
        'NAME   STATUS                     ROLES           AGE   VERSION',
        'n1     Ready                      control-plane   5d    v0.1.0',
        'n2     NotReady                   <none>          5d    v0.1.0',
        'n3     Ready,SchedulingDisabled   <none>          5d    v0.1.0',
        'n4     Unknown                    <none>          5d    v0.1.0',
        '',
      ].join('\n'),
    );
    const wide = printObjects('Node', [nodes[0]], { nowMs: NOW, wide: true }).split('\n');
    expect(wide[0]).toBe('NAME   STATUS   ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE   KERNEL-VERSION   CONTAINER-RUNTIME');
    expect(wide[1]).toBe('n1     Ready    control-plane   5d    v0.1.0    127.0.0.11    <none>        Linux      6.1              process://node-v20.11.1');
  });

  it('services, endpoints, configmaps, secrets, namespaces', () => {
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(10 * S) },
      spec: { type: 'NodePort', clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 443 }] },
    };
    expect(printObjects('Service', [svc], { nowMs: NOW })).toBe(
      'NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)                AGE\nweb    NodePort   10.96.0.10   <none>        80:30080/TCP,443/TCP   10s\n',
    );
    const ep: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(10 * S) },
      subsets: [{ addresses: [{ ip: '127.0.0.11' }, { ip: '127.0.0.12' }, { ip: '127.0.0.13' }, { ip: '127.0.0.14' }], ports: [{ port: 31000 }] }],
    };
    expect(printObjects('Endpoints', [ep], { nowMs: NOW })).toBe(
      'NAME   ENDPOINTS                                                        AGE\nweb    127.0.0.11:31000,127.0.0.12:31000,127.0.0.13:31000 + 1 more...   10s\n',
    );
    const empty: Endpoints = { ...ep, subsets: [] };
    expect(printObjects('Endpoints', [empty], { nowMs: NOW })).toContain('web    <none>      10s');
    const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default', creationTimestamp: ago(S) }, data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } };
    expect(printObjects('ConfigMap', [cm], { nowMs: NOW })).toBe('NAME   DATA   AGE\ncfg    3      1s\n');
    const secret: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default', creationTimestamp: ago(S) }, data: { k: 'dg==' } };
    expect(printObjects('Secret', [secret], { nowMs: NOW })).toBe('NAME   TYPE     DATA   AGE\ns      Opaque   1      1s\n');
    const ns: Namespace[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', creationTimestamp: ago(D) }, status: { phase: 'Active' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'old', creationTimestamp: ago(D), deletionTimestamp: ago(S) } },
    ];
    expect(printObjects('Namespace', ns, { nowMs: NOW })).toBe('NAME      STATUS        AGE\ndefault   Active        24h\nold       Terminating   24h\n');
  });

  it('events: LAST SEEN TYPE REASON OBJECT MESSAGE', () => {
    const ev: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web-1.abc', namespace: 'default', creationTimestamp: ago(5 * M) },
      involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default' },
      reason: 'Scheduled',
      message: 'Successfully assigned default/web-1 to node1',
      type: 'Normal',
      source: { component: 'default-scheduler' },
      firstTimestamp: ago(5 * M),
      lastTimestamp: ago(30 * S),
      count: 1,
    };
    expect(printObjects('Event', [ev], { nowMs: NOW })).toBe(
      'LAST SEEN   TYPE     REASON      OBJECT      MESSAGE\n30s         Normal   Scheduled   pod/web-1   Successfully assigned default/web-1 to node1\n',
    );
  });

  it('names with the kind (get all), LABELS, and rows streamed with fixed widths (-w)', () => {
    const p = pod('web-1', { metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(45 * S), labels: { app: 'web' } } });
    expect(printObjects('Pod', [p], { nowMs: NOW, withKind: true, showLabels: true })).toBe(
      'NAME        READY   STATUS    RESTARTS   AGE   LABELS\npod/web-1   0/1     Pending   0          45s   app=web\n',
    );
    const opts = { nowMs: NOW };
    const t = new StreamingTable(tableHeaders('Pod', opts));
    expect(t.print([tableRow('Pod', p, opts)])).toBe('NAME    READY   STATUS    RESTARTS   AGE\nweb-1   0/1     Pending   0          45s\n');
    const longer = pod('web-longer-name', { status: { phase: 'Running', containerStatuses: [running('app')] } });
    expect(t.print([tableRow('Pod', longer, opts)])).toBe('web-longer-name   1/1     Running   0          45s\n');
  });
});

describe('names and errors', () => {
  it('kind and object references as kubectl prints them', () => {
    expect(kindRef('Deployment')).toBe('deployment.apps');
    expect(kindRef('po')).toBe('pod');
    expect(pluralRef('deploy')).toBe('deployments.apps');
    expect(objectRef({ kind: 'Service', metadata: { name: 'web' } })).toBe('service/web');
  });
  it('Error from server (Code): message', () => {
    const e = new ApiError('NotFound', 'pods "x" not found');
    expect(kubectlErrorText(e)).toBe('Error from server (NotFound): pods "x" not found\n');
    expect(serverErrorText(e, 'error when applying "a.yaml"')).toBe('Error from server (NotFound): error when applying "a.yaml": pods "x" not found\n');
    expect(kubectlErrorText(new Error('plain'))).toBeUndefined();
  });
});

describe('describe', () => {
  it('aligns like Go tabwriter: runs of lines with a cell in a column share its width', () => {
    expect(alignTabs('Name:\tweb\nNamespace:\tdefault\nContainers:\n  app:\n    Image:\tnode\n    Restart Count:\t0\n')).toBe(
      'Name:       web\nNamespace:  default\nContainers:\n  app:\n    Image:          node\n    Restart Count:  0\n',
    );
  });

  it('a pod: metadata, node, containers with state, conditions, and its events oldest first', () => {
    const p = pod('web-1', {
      metadata: {
        name: 'web-1',
        namespace: 'default',
        uid: 'u1',
        creationTimestamp: ago(M),
        labels: { app: 'web', 'pod-template-hash': 'abc' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs1', controller: true }],
      },
      spec: { containers: [{ name: 'app', image: 'node:20', command: ['node', 'server.js'], ports: [{ containerPort: 8080 }], env: [{ name: 'MODE', value: 'prod' }] }], nodeName: 'node1' },
      status: {
        phase: 'Running',
        hostIP: '127.0.0.11',
        podIP: '127.0.0.11',
        startTime: '2026-01-10T11:59:00Z',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ ...running('app', 1), containerID: 'process://42', ports: [{ containerPort: 8080, hostPort: 31234 }], lastState: { terminated: { exitCode: 1, reason: 'Error' } } }],
      },
    });
    const event = (reason: string, at: number, extra: Partial<Event> = {}): Event => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `web-1.${reason}`, namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u1' },
      reason,
      message: `${reason} happened`,
      type: 'Normal',
      source: { component: 'kubelet' },
      firstTimestamp: ago(at),
      lastTimestamp: ago(at),
      count: 1,
      ...extra,
    });
    const events = [
      event('Started', 20 * S, { count: 3, firstTimestamp: ago(50 * S) }),
      event('Scheduled', 55 * S, { source: { component: 'default-scheduler' } }),
      { ...event('Other', 10 * S), involvedObject: { kind: 'Pod', name: 'web-2', namespace: 'default' } },
    ];
    const text = describeObject(resolveKind('Pod') as KindInfo, p, {}, events, NOW);
    // One aligned block from Name to Controlled By, as kubectl's tabwriter lays it out.
    expect(text.startsWith('Name:           web-1\nNamespace:      default\nLabels:         app=web\n                pod-template-hash=abc\nAnnotations:    <none>\nNode:           node1/127.0.0.11\n')).toBe(true);
    expect(text).toContain('IP:             127.0.0.11\nControlled By:  ReplicaSet/web-abc\nContainers:\n  app:\n');
    expect(text).toContain('    Container ID:  process://42\n');
    expect(text).toContain('    Port:          8080/TCP\n    Host Port:     31234/TCP\n');
    expect(text).toContain('    Command:\n      node\n      server.js\n');
    expect(text).toContain('    State:          Running\n');
    expect(text).toContain('    Last State:     Terminated\n      Reason:       Error\n      Exit Code:    1\n');
    expect(text).toContain('    Restart Count:  1\n');
    expect(text).toContain('    Environment:\n      MODE:  prod\n');
    // The conditions table shares a block with the `Key:  value` lines after it, as in kubectl.
    expect(text).toContain('Conditions:\n  Type           Status\n  Ready          True\nVolumes:         <none>\n');
    expect(text.endsWith(
      [
        'Events:',
        '  LAST SEEN          TYPE    REASON     FROM               MESSAGE',
        '  ---------          ----    ------     ----               -------',
        '  55s                Normal  Scheduled  default-scheduler  Scheduled happened',
        '  20s (x3 over 50s)  Normal  Started    kubelet            Started happened',
        '',
      ].join('\n'),
    )).toBe(true);
    expect(text).not.toContain('Other');
  });

  it('a deployment names its new and old replica sets; no events reads <none>', () => {
    const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'node:20', command: ['node'] }] } };
    const d: Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(M), annotations: { 'deployment.kubernetes.io/revision': '2', 'bramble.io/last-applied': '{}' } },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
      status: { replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] },
    };
    const rs = (name: string, revision: string, replicas: number): ReplicaSet => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: 'default', annotations: { 'deployment.kubernetes.io/revision': revision } },
      spec: { replicas, selector: { matchLabels: { app: 'web' } }, template },
      status: { replicas },
    });
    const text = describeObject(resolveKind('deploy') as KindInfo, d, { replicaSets: [rs('web-old', '1', 1), rs('web-new', '2', 3)] }, [], NOW);
    expect(text).toContain('Annotations:            deployment.kubernetes.io/revision: 2\n');
    expect(text).not.toContain('last-applied');
    expect(text).toContain('Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable\n');
    expect(text).toContain('OldReplicaSets:  web-old (1/1 replicas created)\nNewReplicaSet:   web-new (3/3 replicas created)\n');
    expect(text.endsWith('Events:          <none>\n')).toBe(true);
  });

  it('a node: conditions, capacity and the pods on it', () => {
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node1', creationTimestamp: ago(D) },
      spec: { unschedulable: true },
      status: { capacity: { cpu: '4', memory: '4Gi', pods: '110' }, allocatable: { cpu: '4', memory: '4Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }], addresses: [{ type: 'InternalIP', address: '127.0.0.11' }] },
    };
    const p = pod('web-1', { spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['x'], resources: { requests: { cpu: '500m', memory: '512Mi' } } }] } });
    const text = describeObject(resolveKind('no') as KindInfo, node, { pods: [p] }, [], NOW);
    expect(text).toContain('Unschedulable:      true\n');
    expect(text).toContain('  InternalIP:  127.0.0.11\n');
    expect(text).toContain('Non-terminated Pods:          (1 in total)\n  Namespace                   Name   CPU Requests');
    expect(text).toMatch(/default\s+web-1\s+500m \(12%\)\s+0 \(0%\)\s+512Mi \(12%\)\s+0 \(0%\)\s+45s/);
    expect(text).toMatch(/cpu\s+500m \(12%\)\s+0 \(0%\)/);
  });
});

describe('top', () => {
  const node = (name: string): Node => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { allocatable: { cpu: '4', memory: '4Gi' } } });
  it('nodes: CPU in millicores, memory in Mi, percentages of allocatable; <unknown> without metrics', () => {
    const text = topNodesTable([
      { node: node('n2') },
      { node: node('n1'), stats: { nodeName: 'n1', cpuMillicores: 250, memoryBytes: 120 * 1024 * 1024, agentMemoryBytes: 0, pods: [] } },
    ]);
    expect(text).toBe(
      'NAME   CPU(cores)   CPU%        MEMORY(bytes)   MEMORY%\nn1     250m         6%          120Mi           3%\nn2     <unknown>    <unknown>   <unknown>       <unknown>\n',
    );
  });
  it('pods: summed containers, NAMESPACE with -A, one row per container with --containers', () => {
    const pods = [
      { namespace: 'kube', name: 'b', containers: [{ name: 'x', cpuMillicores: 5, memoryBytes: 10 * 1024 * 1024 }] },
      { namespace: 'default', name: 'a', containers: [{ name: 'app', cpuMillicores: 100, memoryBytes: 50 * 1024 * 1024 }, { name: 'side', cpuMillicores: 20, memoryBytes: 8 * 1024 * 1024 }] },
    ];
    expect(topPodsTable(pods)).toBe('NAME   CPU(cores)   MEMORY(bytes)\na      120m         58Mi\nb      5m           10Mi\n');
    expect(topPodsTable(pods, { withNamespace: true })).toBe('NAMESPACE   NAME   CPU(cores)   MEMORY(bytes)\ndefault     a      120m         58Mi\nkube        b      5m           10Mi\n');
    expect(topPodsTable(pods, { containers: true })).toBe('POD   NAME   CPU(cores)   MEMORY(bytes)\na     app    100m         50Mi\na     side   20m          8Mi\nb     x      5m           10Mi\n');
  });
});
