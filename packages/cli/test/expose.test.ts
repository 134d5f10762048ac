// `bramble expose`, and the Service/Endpoints printers, against the fake Resources server
// (MemoryClient underneath: port reservation and nodePort allocation as on the masters).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { kindInfo, type Deployment, type Endpoints, type Pod, type Service } from '@bramble/api';
import { printObjects } from '../src/printers/table.js';
import { describeObject } from '../src/printers/describe.js';
import { CliHarness } from './harness.js';
import { FakeResources } from './resources-fake.js';

let fake: FakeResources;
let cli: CliHarness;
let server: string[];

beforeEach(async () => {
  fake = new FakeResources();
  await fake.start();
  cli = new CliHarness();
  server = ['--server', fake.address];
});

afterEach(() => {
  fake.stop();
  cli.cleanup();
});

function deployment(name: string, opts: { ports?: Array<{ name?: string; containerPort: number }>; matchExpressions?: boolean } = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { app: name, tier: 'web' } },
    spec: {
      replicas: 2,
      selector: {
        matchLabels: { app: name },
        ...(opts.matchExpressions ? { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] } : {}),
      },
      template: {
        metadata: { labels: { app: name, tier: 'web' } },
        spec: { containers: [{ name: 'web', command: ['node', 'server.js'], ...(opts.ports ? { ports: opts.ports } : {}) }] },
      },
    },
  } as Deployment;
}

async function service(name: string): Promise<Service> {
  const svc = await fake.get('Service', 'default', name);
  expect(svc, `service ${name}`).toBeDefined();
  return svc!;
}

describe('bramble expose', () => {
  it('exposes a deployment as a ClusterIP Service: matchLabels selector, labels copied, targetPort = port', async () => {
    await fake.put(deployment('web'));
    const r = await cli.run([...server, 'expose', 'deployment', 'web', '--port', '8080']);
    expect(r).toMatchObject({ code: 0, stdout: 'service/web exposed\n', stderr: '' });
    const svc = await service('web');
    expect(svc.metadata.labels).toEqual({ app: 'web', tier: 'web' });
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', selector: { app: 'web' }, ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP' }] });
    expect(svc.spec.ports[0].nodePort).toBeUndefined();
  });

  it('--type NodePort allocates a nodePort in 30000-32767; --node-port, --name, --target-port by name, deploy/NAME form', async () => {
    await fake.put(deployment('web', { ports: [{ name: 'http', containerPort: 8080 }] }));
    const r = await cli.run([...server, 'expose', 'deploy/web', '--port', '8080', '--type', 'NodePort']);
    expect(r.code).toBe(0);
    const nodePort = (await service('web')).spec.ports[0].nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);

    const named = await cli.run([...server, 'expose', 'deployment', 'web', '--name', 'web-public', '--port', '8081', '--target-port', 'http', '--node-port', '30081']);
    expect(named).toMatchObject({ code: 0, stdout: 'service/web-public exposed\n' });
    expect((await service('web-public')).spec).toMatchObject({ type: 'NodePort', ports: [{ port: 8081, targetPort: 'http', nodePort: 30081 }] });
  });

  it('refuses a port another Service holds, with the server error, and creates nothing', async () => {
    await fake.put(deployment('web'));
    await fake.put(deployment('api'));
    expect((await cli.run([...server, 'expose', 'deployment', 'web', '--port', '8080'])).code).toBe(0);
    const r = await cli.run([...server, 'expose', 'deployment', 'api', '--port', '8080']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error from server (Invalid): Service "api" is invalid: spec.ports[0].port: Invalid value: 8080: provided port is already allocated\n');
    expect(await fake.get('Service', 'default', 'api')).toBeUndefined();
    const range = await cli.run([...server, 'expose', 'deployment', 'api', '--port', '8090', '--node-port', '8090']);
    expect(range.stderr).toContain('spec.ports[0].nodePort: Invalid value: 8090: provided port is not in the valid range. The range of valid ports is 30000-32767');
  });

  it('without --port takes the container ports of the template; -o yaml prints the Service', async () => {
    await fake.put(deployment('multi', { ports: [{ name: 'http', containerPort: 9080 }, { name: 'metrics', containerPort: 9100 }] }));
    const r = await cli.run([...server, '-o', 'yaml', 'expose', 'deployment', 'multi']);
    expect(r.code).toBe(0);
    const printed = YAML.parse(r.stdout) as Service;
    expect(printed.spec.ports).toEqual([
      { name: 'http', port: 9080, protocol: 'TCP', targetPort: 9080 },
      { name: 'metrics', port: 9100, protocol: 'TCP', targetPort: 9100 },
    ]);
  });

  it('exposes a pod by its labels and a service by its selector', async () => {
    await fake.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: 'default', labels: { run: 'solo' } }, spec: { containers: [{ name: 'c', command: ['x'] }] } } as Pod);
    expect((await cli.run([...server, 'expose', 'pod', 'solo', '--port', '7001'])).code).toBe(0);
    expect((await service('solo')).spec.selector).toEqual({ run: 'solo' });
    expect((await cli.run([...server, 'expose', 'svc', 'solo', '--name', 'solo-np', '--port', '7002', '--type', 'NodePort'])).code).toBe(0);
    expect((await service('solo-np')).spec).toMatchObject({ selector: { run: 'solo' }, type: 'NodePort' });
  });

  it('clear errors for what cannot be exposed or is asked wrongly', async () => {
    await fake.put(deployment('web'));
    await fake.put(deployment('expr', { matchExpressions: true }));
    const cases: Array<[string[], number, string]> = [
      [['expose', 'deployment', 'nope', '--port', '1'], 1, 'Error from server (NotFound): deployments.apps "nope" not found'],
      [['expose', 'deployment', 'web'], 1, "couldn't find port via --port flag or introspection: deployment.apps/web declares no container ports"],
      [['expose', 'deployment', 'expr', '--port', '9000'], 1, 'uses matchExpressions'],
      [['expose', 'node', 'n1', '--port', '9000'], 1, 'cannot expose a Node'],
      [['expose', 'deployment', 'web', '--port', '9000', '--type', 'LoadBalancer'], 2, '--type: Unsupported value: "LoadBalancer"'],
      [['expose', 'deployment', 'web', '--port', '9000', '--type', 'ClusterIP', '--node-port', '30001'], 2, '--node-port is only for --type NodePort'],
      [['expose', 'deployment', 'web', '--port', '70000'], 2, 'expected a port number'],
      [['expose', 'deployment', 'web', '--port', '9000', '--target-port', 'not_a_name!'], 2, 'neither a port number nor a port name'],
      [['expose', 'deployment', 'web', 'other', '--port', '9000'], 2, 'exactly one object'],
    ];
    for (const [args, code, text] of cases) {
      const r = await cli.run([...server, ...args]);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toContain(text);
    }
    expect(await fake.store.list('Service')).toEqual([]);
  });

  it('--dry-run stores nothing', async () => {
    await fake.put(deployment('web'));
    const r = await cli.run([...server, 'expose', 'deployment', 'web', '--port', '8080', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stdout: 'service/web exposed (server dry run)\n' });
    expect(await fake.get('Service', 'default', 'web')).toBeUndefined();
  });
});

describe('service and endpoints printers', () => {
  const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
  const created = new Date(NOW - 5000).toISOString();

  it('get svc: <nodes> for the cluster IP, PORT(S) with nodePorts', () => {
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'todo-web', namespace: 'default', creationTimestamp: created },
      spec: { type: 'NodePort', selector: { app: 'todo' }, ports: [{ port: 8080, nodePort: 30080, protocol: 'TCP' }] },
    };
    expect(printObjects('Service', [svc], { nowMs: NOW })).toBe(
      'NAME       TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE\ntodo-web   NodePort   <nodes>      <none>        8080:30080/TCP   5s\n',
    );
  });

  it('get ep: node address and host port of the ready pods; describe svc: the endpoints of each port', () => {
    const ep: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: created },
      subsets: [
        { addresses: [{ ip: '127.0.0.11' }], notReadyAddresses: [{ ip: '127.0.0.13' }], ports: [{ name: 'http', port: 41234 }, { name: 'metrics', port: 41235 }] },
        { addresses: [{ ip: '127.0.0.12' }], ports: [{ name: 'http', port: 40001 }, { name: 'metrics', port: 40002 }] },
      ],
    };
    expect(printObjects('Endpoints', [ep], { nowMs: NOW })).toBe(
      'NAME   ENDPOINTS                                                        AGE\nweb    127.0.0.11:41234,127.0.0.11:41235,127.0.0.12:40001 + 1 more...   5s\n',
    );
    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: created },
      spec: { type: 'ClusterIP', selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 'metrics' }] },
    };
    const text = describeObject(kindInfo('Service'), svc, { endpoints: ep }, [], NOW);
    expect(text).toMatch(/IP:\s+<nodes>/);
    expect(text).toMatch(/Port:\s+http\s+8080\/TCP\nTargetPort:\s+http\/TCP\nEndpoints:\s+127\.0\.0\.11:41234,127\.0\.0\.12:40001\n/);
    expect(text).toMatch(/Port:\s+metrics\s+9100\/TCP\nTargetPort:\s+metrics\/TCP\nEndpoints:\s+127\.0\.0\.11:41235,127\.0\.0\.12:40002\n/);
  });
});
