// An in-process stand-in for the masters' Resources and Tokens services and for one
// node's Kubelet service (proto/api.proto, proto/agent.proto), over MemoryClient's
// in-memory store, so the CLI's kubectl-like commands can be tested without Raft or agents.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '@bramble/transport';
import {
  ApiError,
  applyDefaults,
  applyManifest,
  deepEqual,
  isApiError,
  kindInfo,
  mergePatch,
  mustResolveKind,
  parseFieldSelector,
  parseLabelSelector,
  type KindName,
  type Resource,
} from '@bramble/api';
import { MemoryClient } from '@bramble/controllers';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = Record<string, any>;

const CODES: Partial<Record<ApiError['code'], grpc.status>> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  Conflict: grpc.status.ABORTED,
  Invalid: grpc.status.INVALID_ARGUMENT,
  BadRequest: grpc.status.INVALID_ARGUMENT,
  Gone: grpc.status.OUT_OF_RANGE,
};

/** An ApiError as the masters send it: code, details, and the JSON trailer the client rebuilds it from. */
function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (!isApiError(err)) return { code: grpc.status.INTERNAL, details: String((err as Error)?.message ?? err) };
  const md = new grpc.Metadata();
  md.set('bramble-api-error-bin', Buffer.from(JSON.stringify({ code: err.code, message: err.message, kind: err.kind, name: err.objectName, fieldErrors: err.fieldErrors })));
  return { code: CODES[err.code] ?? grpc.status.INTERNAL, details: err.message, metadata: md };
}

function unary(fn: (req: Wire) => Promise<Wire>): grpc.handleUnaryCall<Wire, Wire> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err) => callback(toStatus(err) as grpc.ServiceError),
    );
  };
}

interface Watcher {
  kind: KindName;
  namespace: string;
  matches(obj: Resource): boolean;
  stream: grpc.ServerWritableStream<Wire, Wire>;
}

export class FakeResources {
  readonly store: MemoryClient;
  readonly tokens = new Map<string, { id: string; description: string; expires: string; created: string }>();
  /** Method names received, in order. */
  readonly calls: string[] = [];
  private readonly watchers = new Set<Watcher>();
  private server: grpc.Server | undefined;
  address = '';

  constructor(opts: { gracefulPodDeletion?: boolean } = {}) {
    let uid = 0;
    this.store = new MemoryClient({ now: Date.now, uid: () => `uid-${++uid}`, gracefulPodDeletion: opts.gracefulPodDeletion ?? false, random: Math.random });
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  async start(): Promise<string> {
    const server = new grpc.Server();
    server.addService(serviceDefinition('api.proto', 'bramble.api.Resources'), this.resourceHandlers());
    server.addService(serviceDefinition('agent.proto', 'bramble.agent.Tokens'), this.tokenHandlers());
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  stop(): void {
    for (const w of this.watchers) w.stream.end();
    this.watchers.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  // ---- test helpers: write through the store and tell watchers --------------------------

  /** Create `obj` (with its status, if any) as a controller or agent would have. */
  async put<T extends Resource>(obj: T): Promise<T> {
    const existing = await this.store.get(obj.kind, obj.metadata.namespace, obj.metadata.name ?? '');
    let stored = existing ? await this.store.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } }) : await this.store.create(obj);
    const status = (obj as { status?: unknown }).status;
    if (status !== undefined) stored = await this.store.updateStatus({ ...stored, status } as T);
    this.notify(existing ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  async get<K extends KindName>(kind: K, namespace: string | undefined, name: string) {
    return this.store.get(kind, namespace, name);
  }

  /** Finish a graceful pod deletion, as the agent does once the processes are gone. */
  async finishPodDeletion(namespace: string, name: string): Promise<void> {
    const before = await this.store.get('Pod', namespace, name);
    await this.store.delete('Pod', namespace, name, { gracePeriodSeconds: 0 });
    if (before) this.notify('DELETED', before);
  }

  // ---- Resources -------------------------------------------------------------------------

  private notify(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Resource): void {
    const withRv = { ...obj, metadata: { ...obj.metadata, resourceVersion: obj.metadata.resourceVersion ?? String(this.store.revision) } };
    for (const w of this.watchers) {
      if (w.kind !== obj.kind) continue;
      if (w.namespace && obj.metadata.namespace !== w.namespace) continue;
      if (!w.matches(obj)) continue;
      w.stream.write({ type, object_json: JSON.stringify(withRv) });
    }
  }

  /** Run a write and tell watchers what it did to the object it names. */
  private async write<T>(kind: KindName, namespace: string | undefined, name: string, fn: () => Promise<T>): Promise<T> {
    const ns = kindInfo(kind).namespaced ? namespace || 'default' : undefined;
    const before = name ? await this.store.get(kind, ns, name) : undefined;
    const result = await fn();
    const after = name ? await this.store.get(kind, ns, name) : undefined;
    if (after && !before) this.notify('ADDED', after);
    else if (after && before && after.metadata.resourceVersion !== before.metadata.resourceVersion) this.notify('MODIFIED', after);
    else if (!after && before) this.notify('DELETED', before);
    return result;
  }

  private parse(json: string): Resource {
    try {
      return JSON.parse(json) as Resource;
    } catch (err) {
      throw new ApiError('BadRequest', `object_json: not JSON: ${(err as Error).message}`);
    }
  }

  private async mustGet(kind: KindName, namespace: string | undefined, name: string): Promise<Resource> {
    const obj = await this.store.get(kind, namespace, name);
    if (!obj) throw new ApiError('NotFound', `${kindInfo(kind).plural}${kindInfo(kind).group ? `.${kindInfo(kind).group}` : ''} ${JSON.stringify(name)} not found`, { kind, name });
    return obj;
  }

  private resourceHandlers(): grpc.UntypedServiceImplementation {
    const track = (method: string, fn: (req: Wire) => Promise<Wire>) =>
      unary(async (req) => {
        this.calls.push(method);
        return fn(req);
      });
    return {
      Create: track('Create', async (req) => {
        const obj = this.parse(req.object_json);
        mustResolveKind(obj.kind ?? '');
        if (req.dry_run) return { object_json: JSON.stringify(applyDefaults(obj)) };
        const created = await this.write(obj.kind, obj.metadata?.namespace, obj.metadata?.name ?? '', () => this.store.create(obj));
        return { object_json: JSON.stringify(created) };
      }),
      Get: track('Get', async (req) => {
        const kind = mustResolveKind(req.kind).kind;
        return { object_json: JSON.stringify(await this.mustGet(kind, req.namespace || 'default', req.name)) };
      }),
      List: track('List', async (req) => {
        const kind = mustResolveKind(req.kind).kind;
        const items = await this.store.list(kind, {
          ...(req.namespace ? { namespace: req.namespace } : {}),
          ...(req.label_selector ? { labelSelector: req.label_selector } : {}),
          ...(req.field_selector ? { fieldSelector: req.field_selector } : {}),
        });
        return { items_json: items.map((o) => JSON.stringify(o)), resource_version: String(this.store.revision) };
      }),
      Update: track('Update', async (req) => {
        const obj = this.parse(req.object_json);
        const fn = () => (req.status ? this.store.updateStatus(obj) : this.store.update(obj));
        return { object_json: JSON.stringify(await this.write(obj.kind, obj.metadata.namespace, obj.metadata.name ?? '', fn)) };
      }),
      Patch: track('Patch', async (req) => {
        const kind = mustResolveKind(req.kind).kind;
        const live = await this.mustGet(kind, req.namespace || 'default', req.name);
        const patched = mergePatch(live, JSON.parse(req.patch_json)) as Resource;
        const fn = () => (req.status ? this.store.updateStatus(patched) : this.store.update(patched));
        return { object_json: JSON.stringify(await this.write(kind, req.namespace, req.name, fn)) };
      }),
      Apply: track('Apply', async (req) => {
        const manifest = this.parse(req.object_json);
        const kind = mustResolveKind(manifest.kind ?? '').kind;
        const ns = kindInfo(kind).namespaced ? manifest.metadata?.namespace || 'default' : undefined;
        const live = await this.store.get(kind, ns, manifest.metadata?.name ?? '');
        const merged = applyManifest(live, manifest);
        if (req.dry_run) return { object_json: JSON.stringify(applyDefaults(merged)), action: live ? 'configured' : 'created' };
        if (!live) {
          const created = await this.write(kind, ns, manifest.metadata.name ?? '', () => this.store.create(merged));
          return { object_json: JSON.stringify(created), action: 'created' };
        }
        if (deepEqual(applyDefaults(merged), live)) return { object_json: JSON.stringify(live), action: 'unchanged' };
        const updated = await this.write(kind, ns, manifest.metadata.name ?? '', () => this.store.update(merged));
        return { object_json: JSON.stringify(updated), action: 'configured' };
      }),
      Delete: track('Delete', async (req) => {
        const kind = mustResolveKind(req.kind).kind;
        const ns = kindInfo(kind).namespaced ? req.namespace || 'default' : undefined;
        const live = await this.mustGet(kind, ns, req.name);
        await this.write(kind, ns, req.name, () =>
          this.store.delete(kind, ns, req.name, {
            ...(req.propagation ? { propagation: req.propagation } : {}),
            ...(req.has_grace_period ? { gracePeriodSeconds: Number(req.grace_period_seconds) } : {}),
            ...(req.precondition_uid || req.precondition_resource_version
              ? { preconditions: { ...(req.precondition_uid ? { uid: req.precondition_uid } : {}), ...(req.precondition_resource_version ? { resourceVersion: req.precondition_resource_version } : {}) } }
              : {}),
          }),
        );
        const after = await this.store.get(kind, ns, req.name);
        return { object_json: JSON.stringify(after ?? live), finished: after === undefined };
      }),
      RecordEvent: track('RecordEvent', async (req) => {
        await this.store.recordEvent(JSON.parse(req.record_json));
        return {};
      }),
      Bind: track('Bind', async () => {
        throw new ApiError('BadRequest', 'Bind is not used by the CLI');
      }),
      Watch: (stream: grpc.ServerWritableStream<Wire, Wire>) => {
        this.calls.push('Watch');
        const req = stream.request;
        let kind: KindName;
        let matches: (obj: Resource) => boolean;
        try {
          kind = mustResolveKind(req.kind).kind;
          const labels = req.label_selector ? parseLabelSelector(req.label_selector) : undefined;
          const fields = req.field_selector ? parseFieldSelector(req.field_selector, kind) : undefined;
          matches = (obj) => (!labels || labels.matches(obj.metadata.labels)) && (!fields || fields.matches(obj));
        } catch (err) {
          stream.emit('error', toStatus(err));
          return;
        }
        const w: Watcher = { kind, namespace: req.namespace ?? '', matches, stream };
        this.watchers.add(w);
        // Where the stream starts, as the masters mark it.
        stream.write({ type: 'BOOKMARK', object_json: JSON.stringify({ kind, metadata: { resourceVersion: String(this.store.revision) } }) });
        stream.on('cancelled', () => this.watchers.delete(w));
        stream.on('close', () => this.watchers.delete(w));
      },
    };
  }

  // ---- Tokens ----------------------------------------------------------------------------

  private tokenHandlers(): grpc.UntypedServiceImplementation {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const random = (n: number): string => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
    return {
      Create: unary(async (req) => {
        this.calls.push('Tokens.Create');
        const id = random(6);
        const ttl = Number(req.ttl_seconds ?? 0);
        const info = { id, description: req.description ?? '', created: new Date().toISOString(), expires: ttl > 0 ? new Date(Date.now() + ttl * 1000).toISOString() : '' };
        this.tokens.set(id, info);
        return { token: `${id}.${random(16)}`, info };
      }),
      List: unary(async () => ({ tokens: [...this.tokens.values()] })),
      Delete: unary(async (req) => {
        if (!this.tokens.delete(req.id)) throw new ApiError('NotFound', `join token ${JSON.stringify(req.id)} not found`);
        return {};
      }),
    };
  }
}

/** One node's Kubelet: container logs (with followers) and a stats answer, both set by the test. */
export class FakeKubelet {
  /** `ns/pod/container` -> the log so far. */
  readonly logs = new Map<string, string>();
  readonly previousLogs = new Map<string, string>();
  stats: Wire = { node_name: '', memory_bytes: 0, cpu_millicores: 0, agent_memory_bytes: 0, pods: [] };
  /** Logs requests received. */
  readonly requests: Wire[] = [];
  private readonly followers = new Map<string, Set<grpc.ServerWritableStream<Wire, Wire>>>();
  private server: grpc.Server | undefined;
  port = 0;

  async start(): Promise<number> {
    const server = new grpc.Server();
    server.addService(serviceDefinition('agent.proto', 'bramble.agent.Kubelet'), {
      Logs: (stream: grpc.ServerWritableStream<Wire, Wire>) => this.serveLogs(stream),
      Stats: unary(async () => this.stats),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  stop(): void {
    for (const set of this.followers.values()) for (const s of set) s.end();
    this.followers.clear();
    this.server?.forceShutdown();
  }

  get followerCount(): number {
    return [...this.followers.values()].reduce((n, s) => n + s.size, 0);
  }

  /** More output from a container: appended to its log and sent to followers. */
  append(key: string, text: string): void {
    this.logs.set(key, (this.logs.get(key) ?? '') + text);
    for (const s of this.followers.get(key) ?? []) s.write({ data: Buffer.from(text) });
  }

  private serveLogs(stream: grpc.ServerWritableStream<Wire, Wire>): void {
    const r = stream.request;
    this.requests.push(r);
    const key = `${r.namespace}/${r.pod}/${r.container}`;
    const source = r.previous ? this.previousLogs : this.logs;
    const text = source.get(key);
    if (text === undefined) {
      stream.emit('error', { code: grpc.status.NOT_FOUND, details: `container ${JSON.stringify(r.container)} of pod ${r.namespace}/${r.pod} has no log on this node` });
      return;
    }
    let out = text;
    if (r.has_tail) {
      const lines = text.split(/(?<=\n)/);
      out = lines.slice(Math.max(0, lines.length - Number(r.tail_lines))).join('');
      if (Number(r.tail_lines) === 0) out = '';
    }
    if (out) stream.write({ data: Buffer.from(out) });
    if (!r.follow) {
      stream.end();
      return;
    }
    const set = this.followers.get(key) ?? new Set();
    set.add(stream);
    this.followers.set(key, set);
    const drop = () => set.delete(stream);
    stream.on('cancelled', drop);
    stream.on('close', drop);
  }
}
