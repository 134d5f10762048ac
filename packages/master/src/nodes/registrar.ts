/**
 * Join and heartbeat, the two things an agent asks of the masters.
 *
 * Join: the token must be valid, the Node valid; the node name must be free or held
 * by this agent's credential; then the Node is created or refreshed from what the
 * agent reports (labels, addresses, capacity, nodeInfo, daemonEndpoints), keeping
 * what users set (spec.unschedulable, taints, their own labels), and marked
 * Ready=True (KubeletReady). Every check comes before the first write, so a
 * rejected join changes nothing.
 *
 * Heartbeat: the credential must match; the time is recorded in this master's
 * memory only.
 */
import { ApiError, deepClone, isApiError, registryKey, validate, invalidError } from '@bramble/api';
import type { Node, NodeCondition } from '@bramble/api';
import { setCondition, type ControllerClient } from '@bramble/controllers';
import type { NodeCredentials } from './credentials.js';
import { NodeAuthError } from './errors.js';
import type { HeartbeatTable } from './heartbeats.js';
import type { NodeStateBackend } from './state-backend.js';
import type { TokenRegistry } from './tokens.js';

const MAX_CONFLICT_RETRIES = 5;

export interface NodeRegistrarOptions {
  tokens: TokenRegistry;
  credentials: NodeCredentials;
  heartbeats: HeartbeatTable;
  /** The resource store (Node objects). */
  client: ControllerClient;
  /** For cheap local reads on the heartbeat path. */
  backend: NodeStateBackend;
  /** Wall clock for condition timestamps. */
  now?: () => number;
}

export interface JoinOutcome {
  credential: string;
  node: Node;
}

function impostor(name: string): NodeAuthError {
  return new NodeAuthError(`node "${name}" is already registered by another agent; its data dir holds the node credential`);
}

/** The Node of a join request, decoded and validated; throws BadRequest / Invalid. */
export function parseJoinNode(nodeJson: string): Node {
  let obj: unknown;
  try {
    obj = JSON.parse(nodeJson);
  } catch (err) {
    throw new ApiError('BadRequest', `node_json: not valid JSON: ${(err as Error).message}`);
  }
  const errors = validate(obj);
  if (errors.length > 0) throw invalidError(obj, errors);
  const node = obj as Node;
  if (node.kind !== 'Node') throw new ApiError('BadRequest', `node_json: kind must be Node (got ${JSON.stringify(node.kind)})`);
  if (!node.metadata.name) throw ApiError.invalid('Node', undefined, [{ type: 'Required', field: 'metadata.name', path: ['metadata', 'name'], message: 'metadata.name: Required value' }]);
  return node;
}

export class NodeRegistrar {
  private readonly now: () => number;

  constructor(private readonly o: NodeRegistrarOptions) {
    this.now = o.now ?? Date.now;
  }

  async join(token: string, nodeJson: string, credential: string): Promise<JoinOutcome> {
    await this.o.tokens.verify(token);
    const reported = parseJoinNode(nodeJson);
    const name = reported.metadata.name!;
    let issued: string | undefined;
    if (credential !== '') {
      const check = await this.o.credentials.check(name, credential);
      if (check === 'mismatch') throw impostor(name);
      // 'unregistered': a first join with the agent's own credential (kept even if our answer
      // is lost, so the retry matches), or the store lost it: register the presented one.
      if (check === 'unregistered') issued = await this.claim(name, credential);
    } else {
      issued = await this.claim(name);
    }
    try {
      const node = await this.upsert(reported);
      this.o.heartbeats.record(name);
      return { credential: issued ?? credential, node };
    } catch (err) {
      if (issued !== undefined) await this.o.credentials.release(name, issued).catch(() => undefined);
      throw err;
    }
  }

  /** Returns whether the heartbeat was recorded; throws NotFound (join first) or NodeAuthError. */
  async heartbeat(name: string, credential: string): Promise<void> {
    if (!name) throw new ApiError('BadRequest', 'node_name: Required value');
    const check = await this.o.credentials.check(name, credential);
    if (check === 'unregistered') throw new ApiError('NotFound', `node "${name}" is not registered: join first`, { kind: 'Node', name });
    if (check === 'mismatch') throw new NodeAuthError(`node "${name}": wrong node credential`);
    const key = registryKey('Node', undefined, name);
    if (this.o.backend.range(key).kvs.length === 0) {
      await this.o.backend.linearizableRead();
      if (this.o.backend.range(key).kvs.length === 0) throw new ApiError('NotFound', `nodes "${name}" not found (deleted?): join again`, { kind: 'Node', name });
    }
    this.o.heartbeats.record(name);
  }

  private async claim(name: string, proposed?: string): Promise<string> {
    const secret = await this.o.credentials.claim(name, proposed);
    if (secret === undefined) throw impostor(name);
    return secret;
  }

  /** Create or refresh the Node, retrying lost optimistic races. */
  private async upsert(reported: Node): Promise<Node> {
    const name = reported.metadata.name!;
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await this.o.client.get('Node', undefined, name);
        return existing ? await this.refresh(existing, reported) : await this.create(reported);
      } catch (err) {
        const raced = isApiError(err, 'Conflict') || isApiError(err, 'AlreadyExists') || isApiError(err, 'NotFound');
        if (!raced || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }

  private readyCondition(existing: NodeCondition[] | undefined): NodeCondition[] {
    const at = new Date(this.now()).toISOString();
    return setCondition(existing, {
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      message: 'agent is posting ready status',
      lastHeartbeatTime: at,
      lastTransitionTime: at,
    });
  }

  private async create(reported: Node): Promise<Node> {
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: reported.metadata.name, labels: { ...(reported.metadata.labels ?? {}) } },
      spec: deepClone(reported.spec ?? {}),
      status: { ...agentStatus(reported), conditions: this.readyCondition(undefined) },
    };
    if (reported.metadata.annotations) node.metadata.annotations = { ...reported.metadata.annotations };
    const created = await this.o.client.create(node);
    // A store that keeps status apart from create (as Kubernetes does) gets it now.
    if (created.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return created;
    return this.o.client.updateStatus({ ...created, status: node.status });
  }

  private async refresh(existing: Node, reported: Node): Promise<Node> {
    let current = existing;
    const labels = { ...(existing.metadata.labels ?? {}), ...(reported.metadata.labels ?? {}) };
    if (JSON.stringify(labels) !== JSON.stringify(existing.metadata.labels ?? {})) {
      current = await this.o.client.update({ ...existing, metadata: { ...existing.metadata, labels } });
    }
    const status = { ...(current.status ?? {}), ...agentStatus(reported), conditions: this.readyCondition(current.status?.conditions) };
    return this.o.client.updateStatus({ ...current, status });
  }
}

/** The status fields the agent owns. */
function agentStatus(reported: Node): NonNullable<Node['status']> {
  const s = reported.status ?? {};
  const out: NonNullable<Node['status']> = {};
  if (s.capacity) out.capacity = deepClone(s.capacity);
  if (s.allocatable) out.allocatable = deepClone(s.allocatable);
  if (s.addresses) out.addresses = deepClone(s.addresses);
  if (s.nodeInfo) out.nodeInfo = deepClone(s.nodeInfo);
  if (s.daemonEndpoints) out.daemonEndpoints = deepClone(s.daemonEndpoints);
  return out;
}
