// In-memory twins of what the agent talks to: the masters' ResourcesApi and NodesApi, and the
// PodRuntime. Each records what it was asked, and can be cut off ("masters unreachable").
import { ApiError, deepClone, type KindName, type Node, type Pod, type Resource, type ResourceKinds } from '@bramble/api';
import {
  BrambleError,
  type JoinResult,
  type NodesApi,
  type ResourceDeleteOptions,
  type ResourceDeleteResult,
  type ResourceEventRecord,
  type ResourceList,
  type ResourceListOptions,
  type ResourcesApi,
  type ResourceWatchEvent,
  type ResourceWatchHandle,
  type ResourceWatchOptions,
} from '@bramble/client';
import type { LogOptions, PodRuntime, PodRuntimeStatus, PodSpecToRun, PodUsage, RuntimeEvent } from '../src/runtime/types.js';

function unavailable(operation: string): BrambleError {
  return new BrambleError({ operation, code: 'UNAVAILABLE', details: 'connect ECONNREFUSED (fake masters are unreachable)' });
}

interface FakeWatch {
  kind: string;
  fieldSelector?: string;
  onEvent: (e: ResourceWatchEvent<any>) => void;
  finish: (err: Error | undefined) => void;
}

function keyOf(kind: string, ns: string | undefined, name: string): string {
  return `${kind}/${ns ?? ''}/${name}`;
}

function matchesField(obj: Resource, selector: string | undefined): boolean {
  if (!selector) return true;
  const m = /^spec\.nodeName=(.*)$/.exec(selector);
  if (!m) throw new Error(`fake: unsupported field selector ${selector}`);
  return (obj as Pod).spec?.nodeName === m[1];
}

/** A tiny API server: objects with resourceVersions, optimistic updates, watches, deletion with grace. */
export class FakeResources implements ResourcesApi {
  private rev = 10;
  private readonly objects = new Map<string, Resource>();
  private readonly watches = new Set<FakeWatch>();
  /** Revisions older than this cannot be watched from (Gone). */
  compactedRev = 0;
  reachable = true;
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  readonly events: ResourceEventRecord[] = [];
  /** Make the next N updateStatus calls fail with Conflict (another writer won). */
  conflictsToInject = 0;

  private check(op: string): void {
    if (!this.reachable) throw unavailable(op);
  }

  private kindOf(kind: string): string {
    return kind === 'pods' ? 'Pod' : kind;
  }

  private notify(type: ResourceWatchEvent['type'], obj: Resource): void {
    for (const w of this.watches) if (w.kind === obj.kind && matchesField(obj, w.fieldSelector)) w.onEvent({ type, object: deepClone(obj) });
  }

  private store(obj: Resource, type: 'ADDED' | 'MODIFIED'): Resource {
    obj.metadata.resourceVersion = String(++this.rev);
    this.objects.set(keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name ?? ''), deepClone(obj));
    this.notify(type, obj);
    return deepClone(obj);
  }

  /** Test setup: create (or replace) an object directly. */
  put<T extends Resource>(obj: T): T {
    const o = deepClone(obj);
    o.metadata.uid ??= `uid-${o.metadata.name}-${this.rev + 1}`;
    o.metadata.namespace ??= o.kind === 'Node' ? undefined : 'default';
    const existed = this.objects.has(keyOf(o.kind, o.metadata.namespace, o.metadata.name ?? ''));
    return this.store(o, existed ? 'MODIFIED' : 'ADDED') as T;
  }

  peek<K extends KindName>(kind: K, ns: string | undefined, name: string): ResourceKinds[K] | undefined {
    const o = this.objects.get(keyOf(kind, ns, name));
    return o ? (deepClone(o) as ResourceKinds[K]) : undefined;
  }

  /** Remove without going through the agent (like the node controller's force delete). */
  forceRemove(kind: string, ns: string | undefined, name: string, notifyWatchers = true): void {
    const k = keyOf(kind, ns, name);
    const o = this.objects.get(k);
    if (!o) return;
    this.objects.delete(k);
    this.rev++;
    if (notifyWatchers) this.notify('DELETED', o);
  }

  /** End every watch with Gone and refuse to resume from before now. */
  expireWatches(): void {
    this.compactedRev = this.rev;
    for (const w of [...this.watches]) w.finish(new ApiError('Gone', 'too old resource version: expired, re-list'));
  }

  /** Cut the fake off: calls fail UNAVAILABLE and open watches end with that error. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
    if (!reachable) for (const w of [...this.watches]) w.finish(unavailable('watch pods'));
  }

  get openWatches(): number {
    return this.watches.size;
  }

  callsOf(op: string): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  async create<T extends Resource>(obj: T): Promise<T> {
    this.calls.push({ op: 'create', args: [obj] });
    this.check('create');
    if (this.objects.has(keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name ?? ''))) throw new ApiError('AlreadyExists', 'exists');
    return this.put(obj);
  }

  async get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K]> {
    this.calls.push({ op: 'get', args: [kind, namespace, name] });
    this.check(`get ${kind}`);
    const o = this.objects.get(keyOf(this.kindOf(kind), namespace, name));
    if (!o) throw new ApiError('NotFound', `${kind} "${name}" not found`, { kind, name });
    return deepClone(o) as ResourceKinds[K];
  }

  async list<K extends KindName>(kind: K, options: ResourceListOptions = {}): Promise<ResourceList<ResourceKinds[K]>> {
    this.calls.push({ op: 'list', args: [kind, options] });
    this.check(`list ${kind}`);
    const items = [...this.objects.values()].filter((o) => o.kind === this.kindOf(kind) && matchesField(o, options.fieldSelector));
    return { items: deepClone(items) as ResourceKinds[K][], resourceVersion: String(this.rev) };
  }

  async update<T extends Resource>(obj: T): Promise<T> {
    this.calls.push({ op: 'update', args: [obj] });
    throw new Error('fake: update not used by the agent');
  }

  async updateStatus<T extends Resource>(obj: T): Promise<T> {
    this.calls.push({ op: 'updateStatus', args: [deepClone(obj)] });
    this.check('updateStatus');
    const k = keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name ?? '');
    const cur = this.objects.get(k);
    if (!cur || cur.metadata.uid !== obj.metadata.uid) throw new ApiError('NotFound', `pod "${obj.metadata.name}" not found`);
    if (this.conflictsToInject > 0 || (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion)) {
      if (this.conflictsToInject > 0) {
        this.conflictsToInject--;
        this.store(cur, 'MODIFIED'); // someone else wrote: the revision moves on
      }
      throw new ApiError('Conflict', 'the object has been modified; please apply your changes to the latest version');
    }
    const next = deepClone(cur) as T & { status?: unknown };
    next.status = deepClone((obj as { status?: unknown }).status);
    return this.store(next, 'MODIFIED') as T;
  }

  async patch(): Promise<never> {
    throw new Error('fake: patch not used by the agent');
  }

  async apply(): Promise<never> {
    throw new Error('fake: apply not used by the agent');
  }

  async delete(kind: KindName, namespace: string | undefined, name: string, options: ResourceDeleteOptions = {}): Promise<ResourceDeleteResult> {
    this.calls.push({ op: 'delete', args: [kind, namespace, name, options] });
    this.check('delete');
    const k = keyOf(this.kindOf(kind), namespace, name);
    const cur = this.objects.get(k);
    if (!cur) throw new ApiError('NotFound', `${kind} "${name}" not found`);
    if (options.preconditions?.uid && options.preconditions.uid !== cur.metadata.uid) throw new ApiError('Conflict', 'uid precondition failed');
    const grace = options.gracePeriodSeconds ?? (cur as Pod).spec?.terminationGracePeriodSeconds ?? 30;
    if (cur.kind === 'Pod' && grace > 0 && (cur as Pod).spec.nodeName) {
      const next = deepClone(cur);
      next.metadata.deletionTimestamp = new Date().toISOString();
      next.metadata.deletionGracePeriodSeconds = grace;
      return { object: this.store(next, 'MODIFIED'), finished: false };
    }
    this.forceRemove(cur.kind, namespace, name);
    return { object: deepClone(cur), finished: true };
  }

  watch<K extends KindName>(kind: K, options: ResourceWatchOptions, onEvent: (event: ResourceWatchEvent<ResourceKinds[K]>) => void): ResourceWatchHandle {
    this.calls.push({ op: 'watch', args: [kind, options] });
    let finish!: (err: Error | undefined) => void;
    const done = new Promise<Error | undefined>((resolve) => {
      finish = resolve;
    });
    const w: FakeWatch = {
      kind: this.kindOf(kind),
      fieldSelector: options.fieldSelector,
      onEvent: onEvent as FakeWatch['onEvent'],
      finish: (err) => {
        this.watches.delete(w);
        finish(err);
      },
    };
    if (!this.reachable) w.finish(unavailable('watch'));
    else if (options.resourceVersion && Number(options.resourceVersion) < this.compactedRev) w.finish(new ApiError('Gone', 'too old resource version'));
    else this.watches.add(w);
    return { close: () => w.finish(undefined), done };
  }

  async bind(): Promise<Pod> {
    throw new Error('fake: bind not used by the agent');
  }

  async recordEvent(record: ResourceEventRecord): Promise<void> {
    this.check('recordEvent');
    this.events.push(record);
  }

  /** The size of every RecordEvents batch received. */
  readonly eventBatches: number[] = [];

  async recordEvents(records: ResourceEventRecord[]): Promise<void> {
    this.check('recordEvents');
    this.eventBatches.push(records.length);
    this.events.push(...records);
  }
}

/** The Nodes service of one master (or of all of them, for the join). */
export class FakeNodes implements NodesApi {
  readonly joins: Array<{ token: string; node: Node; credential?: string }> = [];
  readonly heartbeats: Array<{ nodeName: string; credential: string }> = [];
  reachable = true;

  constructor(
    readonly master: string,
    /** Shared by every master: node name -> credential. */
    readonly registry: Map<string, string>,
    readonly validToken = 'abcdef.0123456789abcdef',
  ) {}

  async join(token: string, node: Node, credential?: string): Promise<JoinResult> {
    this.joins.push({ token, node, credential });
    if (!this.reachable) throw unavailable('join');
    const name = node.metadata.name ?? '';
    if (token !== this.validToken) throw new BrambleError({ operation: 'join', code: 'UNAUTHENTICATED', details: 'join token is not valid' });
    const known = this.registry.get(name);
    if (known && credential !== known) throw new BrambleError({ operation: 'join', code: 'UNAUTHENTICATED', details: `node ${name} exists with another credential` });
    // Like the masters: the agent's own credential is registered on its first join.
    const cred = known ?? credential ?? `cred-${name}-${this.registry.size + 1}`;
    this.registry.set(name, cred);
    return { credential: cred, node };
  }

  async heartbeat(nodeName: string, credential: string): Promise<{ leader: boolean }> {
    this.heartbeats.push({ nodeName, credential });
    if (!this.reachable) throw unavailable('heartbeat');
    if (!this.registry.has(nodeName)) throw new BrambleError({ operation: 'heartbeat', code: 'NOT_FOUND', details: `node ${nodeName} is not registered` });
    return { leader: this.master.endsWith(':1') };
  }
}

/** A runtime that "runs" a pod by recording it: Running at once, or whatever a test sets. */
export class FakeRuntime implements PodRuntime {
  readonly synced: PodSpecToRun[] = [];
  readonly kills: Array<{ uid: string; grace: number }> = [];
  readonly statuses = new Map<string, PodRuntimeStatus>();
  private readonly statusListeners: Array<(uid: string) => void> = [];
  private readonly eventListeners: Array<(e: RuntimeEvent) => void> = [];
  recovered: string[] = [];
  recoverCalls = 0;
  closed = false;
  /** When false, killPod waits until `releaseKills()`. */
  killImmediately = true;
  private heldKills: Array<() => void> = [];
  logText = new Map<string, string>();

  async recover(): Promise<string[]> {
    this.recoverCalls++;
    for (const uid of this.recovered) if (!this.statuses.has(uid)) this.statuses.set(uid, this.runningStatus(uid));
    return [...this.recovered];
  }

  runningStatus(uid: string, names: string[] = ['main']): PodRuntimeStatus {
    const t = '2026-01-01T00:00:00Z';
    return {
      uid,
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: t },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: t },
        { type: 'Ready', status: 'True', lastTransitionTime: t },
      ],
      containerStatuses: names.map((name) => ({ name, ready: true, started: true, restartCount: 0, state: { running: { startedAt: t } } })),
      startTime: t,
      finished: false,
    };
  }

  /** Pods (by name) syncPod refuses, as a runtime refuses a spec it cannot run. */
  readonly refuse = new Set<string>();

  syncPod(spec: PodSpecToRun): void {
    if (this.closed) throw new Error('fake runtime: syncPod after close');
    if (this.refuse.has(spec.pod.metadata.name ?? '')) throw new Error(`syncPod: pod ${spec.pod.metadata.name}: refused`);
    this.synced.push(deepClone(spec));
    const uid = spec.pod.metadata.uid ?? '';
    if (!this.statuses.has(uid)) {
      this.statuses.set(uid, this.runningStatus(uid, spec.pod.spec.containers.map((c) => c.name)));
      this.changed(uid);
      this.emit({ podUid: uid, type: 'Normal', reason: 'Started', message: 'Started container main', fieldPath: 'spec.containers{main}' });
    }
  }

  setStatus(uid: string, status: PodRuntimeStatus): void {
    this.statuses.set(uid, status);
    this.changed(uid);
  }

  changed(uid: string): void {
    setImmediate(() => this.statusListeners.forEach((l) => l(uid)));
  }

  emit(e: RuntimeEvent): void {
    setImmediate(() => this.eventListeners.forEach((l) => l(e)));
  }

  async killPod(uid: string, gracePeriodSeconds: number): Promise<void> {
    this.kills.push({ uid, grace: gracePeriodSeconds });
    if (!this.killImmediately) await new Promise<void>((r) => this.heldKills.push(r));
    this.statuses.delete(uid);
  }

  releaseKills(): void {
    for (const r of this.heldKills.splice(0)) r();
  }

  knownPods(): string[] {
    return [...this.statuses.keys()];
  }

  status(uid: string): PodRuntimeStatus | undefined {
    return this.statuses.get(uid);
  }

  onStatusChange(listener: (uid: string) => void): void {
    this.statusListeners.push(listener);
  }

  onEvent(listener: (event: RuntimeEvent) => void): void {
    this.eventListeners.push(listener);
  }

  usage(): PodUsage[] {
    return [];
  }

  async logs(uid: string, options: LogOptions, onData: (chunk: Buffer) => void): Promise<void> {
    const text = this.logText.get(`${uid}/${options.container}`);
    if (text === undefined) throw new Error(`no log for container ${options.container}: not found`);
    onData(Buffer.from(text));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A bound pod as the scheduler leaves it. */
export function boundPod(name: string, nodeName: string, spec: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'main', command: ['sleep', '1000'] }], nodeName, terminationGracePeriodSeconds: 7, ...spec },
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  };
}
