// ResourcesClient against scripted fake Resources servers: ApiErrors rebuilt from the
// trailer, which writes are retried on another master, and watch resumption.
import * as grpc from '@grpc/grpc-js';
import { ApiError, type ConfigMap } from '@bramble/api';
import { serviceDefinition } from '@bramble/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { BrambleClient, type ResourceWatchEvent } from '../src/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = Record<string, any>;

interface Fake {
  endpoint: string;
  calls: Array<{ method: string; request: Wire }>;
  server: grpc.Server;
}

const servers: grpc.Server[] = [];
const clients: BrambleClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

function trailer(body: object, extra: Record<string, string> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('bramble-api-error-bin', Buffer.from(JSON.stringify(body)));
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

/** A Resources server whose every unary method is `unary`, and whose Watch is `watch`. */
async function fake(
  unary: (method: string, request: Wire) => { error?: Partial<grpc.StatusObject>; response?: Wire },
  watch?: (call: grpc.ServerWritableStream<Wire, Wire>, fake: Fake) => void,
  /** Response metadata of every successful unary call (a master's bramble-member / bramble-leader). */
  headers?: () => Record<string, string>,
  /** Cluster.MemberList's answer, when the fake serves it. */
  memberList?: () => Wire,
): Promise<Fake> {
  const server = new grpc.Server();
  servers.push(server);
  const f: Fake = { endpoint: '', calls: [], server };
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of ['Create', 'Get', 'List', 'Update', 'Patch', 'Apply', 'Delete', 'Bind', 'RecordEvent', 'RecordEvents']) {
    impl[method] = (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) => {
      f.calls.push({ method, request: call.request });
      const r = unary(method, call.request);
      if (r.error) {
        callback(r.error as grpc.ServiceError);
        return;
      }
      if (headers) {
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(headers())) md.set(k, v);
        call.sendMetadata(md);
      }
      callback(null, r.response ?? {});
    };
  }
  impl.Watch = (call: grpc.ServerWritableStream<Wire, Wire>) => {
    f.calls.push({ method: 'Watch', request: call.request });
    watch?.(call, f);
  };
  server.addService(serviceDefinition('api.proto', 'bramble.api.Resources'), impl);
  if (memberList) {
    server.addService(serviceDefinition('cluster.proto', 'bramble.cluster.Cluster'), {
      MemberList: (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) => {
        f.calls.push({ method: 'MemberList', request: call.request });
        callback(null, memberList());
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  f.endpoint = `127.0.0.1:${port}`;
  return f;
}

function client(endpoints: string[]): BrambleClient {
  const c = new BrambleClient({ endpoints, requestTimeoutMs: 3_000, retries: { initialBackoffMs: 10, maxBackoffMs: 20 } });
  clients.push(c);
  return c;
}

const cm = (name: string, rv: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', resourceVersion: rv } });

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ResourcesClient', () => {
  it('learns the leader from the masters\' response metadata and sends its next calls there; watches spread to a follower', async () => {
    const endpoints: Record<string, string> = {};
    const members = () => ({ cluster_id: 'c', leader: 'm2', members: ['m1', 'm2'].map((name) => ({ name, address: endpoints[name], http_address: '', is_learner: false })) });
    const answer = () => ({ response: { object_json: JSON.stringify(cm('x', '7')) } });
    const watchOn: string[] = [];
    const onWatch = (name: string) => (call: grpc.ServerWritableStream<Wire, Wire>) => {
      watchOn.push(name);
      call.write({ type: 'BOOKMARK', object_json: JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '7' } }) });
    };
    const follower = await fake(answer, onWatch('m1'), () => ({ 'bramble-member': 'm1', 'bramble-leader': 'm2' }), members);
    const leader = await fake(answer, onWatch('m2'), () => ({ 'bramble-member': 'm2', 'bramble-leader': 'm2' }), members);
    endpoints.m1 = follower.endpoint;
    endpoints.m2 = leader.endpoint;
    const c = new BrambleClient({ endpoints: [follower.endpoint, leader.endpoint], requestTimeoutMs: 3_000, spreadWatches: true });
    clients.push(c);

    await c.resources.get('ConfigMap', 'default', 'x'); // to the first endpoint: a follower naming m2 as leader
    expect(follower.calls.map((x) => x.method)).toEqual(['Get']);
    await waitUntil('the member list looked up (m2 is named but its endpoint unknown)', () => follower.calls.some((x) => x.method === 'MemberList'));
    await waitUntil('the leader endpoint known', () => c.currentEndpoint === leader.endpoint);
    await c.resources.get('ConfigMap', 'default', 'x');
    await c.resources.get('ConfigMap', 'default', 'x');
    expect(leader.calls.map((x) => x.method)).toEqual(['Get', 'Get']);

    const w = c.resources.watch('ConfigMap', { resourceVersion: '7' }, () => {});
    await waitUntil('the watch opened', () => watchOn.length > 0);
    expect(watchOn).toEqual(['m1']); // the only follower
    w.close();
  });

  it('rebuilds the ApiError from the trailer: code, message, kind, name and field errors', async () => {
    const fieldErrors = [{ type: 'UnknownField', field: 'spec.foo', path: ['spec', 'foo'], message: 'spec.foo: Unsupported field "foo"' }];
    const f = await fake(() => ({
      error: {
        code: grpc.status.INVALID_ARGUMENT,
        details: 'ConfigMap "a" is invalid: spec.foo: Unsupported field "foo"',
        metadata: trailer({ code: 'Invalid', message: 'ConfigMap "a" is invalid: spec.foo: Unsupported field "foo"', kind: 'ConfigMap', name: 'a', fieldErrors }),
      },
    }));
    const err = await client([f.endpoint]).resources.create(cm('a', '')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'Invalid', kind: 'ConfigMap', objectName: 'a', fieldErrors });
    expect(f.calls).toHaveLength(1);
  });

  it('recordEvents sends the records in one RecordEvents request, and nothing for none', async () => {
    const f = await fake(() => ({ response: {} }));
    const c = client([f.endpoint]);
    const record = { involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' }, type: 'Normal' as const, reason: 'Started', message: 'm', component: 'kubelet', timeMs: 5 };
    await c.resources.recordEvents([record, { ...record, reason: 'Created' }]);
    await c.resources.recordEvents([]);
    expect(f.calls.map((call) => call.method)).toEqual(['RecordEvents']);
    expect((f.calls[0].request.records_json as string[]).map((j) => JSON.parse(j).reason)).toEqual(['Started', 'Created']);
  });

  it('retries a write on another master only when the first one certainly did not apply it', async () => {
    const down = await fake(() => ({ error: { code: grpc.status.UNAVAILABLE, details: 'proposal dropped', metadata: trailer({ code: 'ServiceUnavailable', message: 'no leader' }, { 'bramble-retry-safe': 'true' }) } }));
    const up = await fake((method, req) => ({ response: { object_json: req.object_json } }));
    const created = await client([down.endpoint, up.endpoint]).resources.create(cm('a', ''));
    expect(created.metadata.name).toBe('a');
    expect([down.calls.length, up.calls.length]).toEqual([1, 1]);

    const unknown = await fake(() => ({ error: { code: grpc.status.UNAVAILABLE, details: 'connection lost' } }));
    const up2 = await fake((method, req) => ({ response: { object_json: req.object_json } }));
    const err = await client([unknown.endpoint, up2.endpoint]).resources.update(cm('a', '3')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNKNOWN_OUTCOME' });
    expect(up2.calls).toHaveLength(0);
    // A read is simply asked again elsewhere.
    const up3 = await fake(() => ({ response: { items_json: [JSON.stringify(cm('a', '3'))], resource_version: '9' } }));
    const list = await client([unknown.endpoint, up3.endpoint]).resources.list('ConfigMap');
    expect(list).toEqual({ items: [cm('a', '3')], resourceVersion: '9' });
  });

  it('a watch resumes on another master from the last resourceVersion seen, and hides the start BOOKMARK', async () => {
    const second = await fake(
      () => ({}),
      (call) => {
        call.write({ type: 'MODIFIED', object_json: JSON.stringify(cm('a', '8')) });
      },
    );
    const first = await fake(
      () => ({}),
      (call) => {
        call.write({ type: 'BOOKMARK', object_json: JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '5' } }) });
        call.write({ type: 'ADDED', object_json: JSON.stringify(cm('a', '6')) });
        setImmediate(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'master going away' }));
      },
    );
    const seen: Array<ResourceWatchEvent<ConfigMap>> = [];
    const handle = client([first.endpoint, second.endpoint]).resources.watch('ConfigMap', {}, (e) => seen.push(e));
    await waitUntil('two events', () => seen.length === 2);
    expect(seen.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`)).toEqual(['ADDED 6', 'MODIFIED 8']);
    expect(first.calls[0].request).toMatchObject({ kind: 'ConfigMap', resource_version: '', send_initial_events: false });
    expect(second.calls[0].request).toMatchObject({ kind: 'ConfigMap', resource_version: '6' });
    handle.close();
    expect(await handle.done).toBeUndefined();
  });

  it('delivers initial events and their BOOKMARK; a Gone error ends the watch with that ApiError', async () => {
    const f = await fake(
      () => ({}),
      (call) => {
        call.write({ type: 'ADDED', object_json: JSON.stringify(cm('a', '4')) });
        call.write({ type: 'BOOKMARK', object_json: JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '7' } }) });
        const message = 'resourceVersion 7 is too old: the store is compacted at 9: expired, re-list';
        setImmediate(() => call.emit('error', { code: grpc.status.OUT_OF_RANGE, details: message, metadata: trailer({ code: 'Gone', message }) }));
      },
    );
    const seen: string[] = [];
    const handle = client([f.endpoint]).resources.watch('ConfigMap', { sendInitialEvents: true }, (e) => seen.push(`${e.type} ${e.object.metadata.resourceVersion}`));
    const err = await handle.done;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'Gone', message: 'resourceVersion 7 is too old: the store is compacted at 9: expired, re-list' });
    expect(seen).toEqual(['ADDED 4', 'BOOKMARK 7']);
    expect(f.calls.filter((c) => c.method === 'Watch')).toHaveLength(1);
  });
});
