/**
 * The typed face of the Resources, Nodes, Tokens and Kubelet services
 * (proto/api.proto, proto/agent.proto), as the CLI, the agent and tests use it.
 *
 * Every method throws `ApiError` from @bramble/api on an API-level failure
 * (code NotFound, AlreadyExists, Conflict, Invalid with fieldErrors, BadRequest,
 * Gone for a watch from a compacted revision ...), rebuilt from the server's
 * `bramble-api-error-bin` trailer; transport failures stay `BrambleError`s.
 */
import type { KindName, Node, Pod, Resource, ResourceKinds } from '@bramble/api';

export type DeletionPropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface ResourceListOptions {
  /** Only this namespace; every namespace when absent (ignored for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ResourceList<T> {
  items: T[];
  /** Revision the list was read at: start a watch here to miss nothing. */
  resourceVersion: string;
}

export interface ResourceDeleteOptions {
  propagation?: DeletionPropagationPolicy;
  /** 0 removes a pod at once (force); default: the pod's terminationGracePeriodSeconds, waiting for its agent. */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ResourceDeleteResult {
  object: Resource;
  /** False while the object is still there with a deletionTimestamp (finalizers, a pod's grace period). */
  finished: boolean;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ResourceWatchOptions extends ResourceListOptions {
  /** Events after this revision; absent or "0" = from now. */
  resourceVersion?: string;
  /** ADDED for every matching object first, then a BOOKMARK, then changes. */
  sendInitialEvents?: boolean;
}

export type ResourceWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface ResourceWatchEvent<T = Resource> {
  type: ResourceWatchEventType;
  object: T;
}

export interface ResourceWatchHandle {
  close(): void;
  /** Resolves when the stream ends: undefined after close(), the error otherwise (e.g. ApiError code Gone: "expired, re-list"). */
  done: Promise<Error | undefined>;
}

/** An Event to record: the server stores it as an `Event` object, bumping the count of an identical recent one. */
export interface ResourceEventRecord {
  involvedObject: { kind: string; namespace?: string; name: string; uid?: string; apiVersion?: string; resourceVersion?: string; fieldPath?: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  component: string;
  /** ms since the epoch. */
  timeMs: number;
}

export interface ResourcesApi {
  create<T extends Resource>(obj: T, options?: { dryRun?: boolean }): Promise<T>;
  /** Throws ApiError NotFound when absent. `kind` may be a Kind, plural or short name. */
  get<K extends KindName>(kind: K, namespace: string | undefined, name: string): Promise<ResourceKinds[K]>;
  list<K extends KindName>(kind: K, options?: ResourceListOptions): Promise<ResourceList<ResourceKinds[K]>>;
  /** Replaces metadata and spec; optimistic when metadata.resourceVersion is set. */
  update<T extends Resource>(obj: T): Promise<T>;
  /** Replaces only status; optimistic when metadata.resourceVersion is set. */
  updateStatus<T extends Resource>(obj: T): Promise<T>;
  /** JSON merge patch (RFC 7386). */
  patch<K extends KindName>(kind: K, namespace: string | undefined, name: string, patch: unknown, options?: { status?: boolean }): Promise<ResourceKinds[K]>;
  /** `kubectl apply`: create, or update from the manifest (fields dropped from the last applied one are removed). */
  apply<T extends Resource>(obj: T, options?: { dryRun?: boolean }): Promise<{ object: T; action: ApplyAction }>;
  delete(kind: KindName, namespace: string | undefined, name: string, options?: ResourceDeleteOptions): Promise<ResourceDeleteResult>;
  watch<K extends KindName>(kind: K, options: ResourceWatchOptions, onEvent: (event: ResourceWatchEvent<ResourceKinds[K]>) => void): ResourceWatchHandle;
  /** Compare-and-set binding of a pod to a node (Conflict if bound already or resourceVersion stale). */
  bind(namespace: string, name: string, nodeName: string, resourceVersion: string): Promise<Pod>;
  recordEvent(record: ResourceEventRecord): Promise<void>;
  /**
   * Several events with one request and one write on the masters (RecordEvents; at most
   * 1000 and within the request size limit). A malformed record refuses the batch; else
   * every event that can be is recorded and the first failure is thrown.
   */
  recordEvents(records: ResourceEventRecord[]): Promise<void>;
}

export interface JoinResult {
  /** Keep it in the agent's data dir: rejoining under this node name needs it. */
  credential: string;
  node: Node;
}

export interface NodesApi {
  /** Registers (or re-registers) a Node with a join token; UNAUTHENTICATED with a clear reason when the token or credential is wrong. */
  join(token: string, node: Node, credential?: string): Promise<JoinResult>;
  /** One liveness heartbeat to the master this client talks to; returns whether it is the leader. */
  heartbeat(nodeName: string, credential: string): Promise<{ leader: boolean }>;
  /**
   * Opens a Nodes.HeartbeatStream to the master this client prefers: each `send` is one heartbeat,
   * recorded like a unary one and answered in order. Optional: without it, agents send unary heartbeats.
   */
  openHeartbeatStream?(nodeName: string, listener: HeartbeatStreamListener): HeartbeatStreamHandle;
}

export interface HeartbeatStreamListener {
  /** The answer to the oldest unanswered heartbeat. */
  onResponse(response: { leader: boolean }): void;
  /**
   * The stream ended (never after `close()`), with the error the unary Heartbeat would have
   * given: UNAUTHENTICATED (wrong credential), ApiError NotFound (unknown node), UNIMPLEMENTED
   * (a master without the stream), or a transport failure (UNAVAILABLE, CANCELLED, ...).
   */
  onEnd(err: Error): void;
}

export interface HeartbeatStreamHandle {
  /** The master this stream goes to. */
  readonly endpoint: string;
  /** Sends one heartbeat; throws when the stream has ended. */
  send(credential: string): void;
  /** Half-closes and cancels the stream; no listener call follows. */
  close(): void;
}

export interface TokenInfo {
  id: string;
  description: string;
  /** RFC 3339, '' = never. */
  expires: string;
  created: string;
}

export interface TokensApi {
  create(options?: { ttlSeconds?: number; description?: string }): Promise<{ token: string; info: TokenInfo }>;
  list(): Promise<TokenInfo[]>;
  delete(id: string): Promise<void>;
}
