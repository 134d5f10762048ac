// NodesClient and TokensClient over proto/agent.proto's Nodes and Tokens services.
import * as grpc from '@grpc/grpc-js';
import type { Node } from '@bramble/api';
import { serviceClient } from '@bramble/transport';
import { unary, type CallContext, type Caller } from './call.js';
import type { Connection } from './endpoints.js';
import { isServiceError } from './errors.js';
import { apiErrorFromStatus } from './resources.js';
import { HeartbeatStream } from './heartbeat-stream.js';
import type { HeartbeatStreamHandle, HeartbeatStreamListener, JoinResult, NodesApi, TokenInfo, TokensApi } from './resources-types.js';
import type { Wire } from './wire.js';

const AGENT_PROTO = 'agent.proto';

let nodesCtor: grpc.ServiceClientConstructor | undefined;
let tokensCtor: grpc.ServiceClientConstructor | undefined;
const nodesClients = new WeakMap<Connection, grpc.Client>();
const tokensClients = new WeakMap<Connection, grpc.Client>();

/** A service client sharing the connection's channel, made once per connection. */
function serviceOn(conn: Connection, which: 'Nodes' | 'Tokens'): grpc.Client {
  const cache = which === 'Nodes' ? nodesClients : tokensClients;
  let client = cache.get(conn);
  if (!client) {
    const Ctor = which === 'Nodes' ? (nodesCtor ??= serviceClient(AGENT_PROTO, 'bramble.agent.Nodes')) : (tokensCtor ??= serviceClient(AGENT_PROTO, 'bramble.agent.Tokens'));
    client = new Ctor(conn.endpoint, grpc.credentials.createInsecure(), { channelOverride: conn.channel });
    cache.set(conn, client);
  }
  return client;
}

/** Failures the caller's failover handles stay gRPC errors (as for the Resources service). */
const TRANSPORT_CODES = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);

async function call<T>(conn: CallContext, which: 'Nodes' | 'Tokens', method: string, request: object): Promise<T> {
  try {
    return await unary<T>(serviceOn(conn.conn, which), method, request, conn);
  } catch (err) {
    if (isServiceError(err) && !TRANSPORT_CODES.has(err.code)) {
      const api = apiErrorFromStatus(err);
      if (api) throw api;
    }
    throw err;
  }
}

function tokenInfoFromWire(w: Wire | undefined): TokenInfo {
  return { id: String(w?.id ?? ''), description: String(w?.description ?? ''), expires: String(w?.expires ?? ''), created: String(w?.created ?? '') };
}

export class NodesClient implements NodesApi {
  constructor(private readonly caller: Caller) {}

  async join(token: string, node: Node, credential = ''): Promise<JoinResult> {
    return this.caller.call({
      operation: `join node ${JSON.stringify(node.metadata?.name ?? '')}`,
      idempotent: false,
      run: async (ctx) => {
        const w = await call<Wire>(ctx, 'Nodes', 'Join', { token, node_json: JSON.stringify(node), credential });
        return { credential: String(w.credential ?? ''), node: JSON.parse(String(w.node_json ?? '{}')) as Node };
      },
    });
  }

  async heartbeat(nodeName: string, credential: string): Promise<{ leader: boolean }> {
    return this.caller.call({
      operation: `heartbeat of node ${JSON.stringify(nodeName)}`,
      idempotent: true,
      run: async (ctx) => {
        const w = await call<Wire>(ctx, 'Nodes', 'Heartbeat', { node_name: nodeName, credential });
        return { leader: w.leader === true };
      },
    });
  }

  openHeartbeatStream(nodeName: string, listener: HeartbeatStreamListener): HeartbeatStreamHandle {
    const operation = `heartbeat stream of node ${JSON.stringify(nodeName)}`;
    if (this.caller.isClosed) throw this.caller.closedError(operation);
    const endpoint = this.caller.pool.preferred();
    let conn: Connection;
    try {
      conn = this.caller.pool.connection(endpoint);
    } catch {
      throw this.caller.closedError(operation);
    }
    return new HeartbeatStream(serviceOn(conn, 'Nodes'), this.caller.opts.metadata(), endpoint, nodeName, listener);
  }
}

export class TokensClient implements TokensApi {
  constructor(private readonly caller: Caller) {}

  async create(options: { ttlSeconds?: number; description?: string } = {}): Promise<{ token: string; info: TokenInfo }> {
    const ttl = options.ttlSeconds ?? 0;
    if (!Number.isSafeInteger(ttl) || ttl < 0) throw new TypeError(`ttlSeconds: must be a non-negative integer (got ${JSON.stringify(options.ttlSeconds)})`);
    return this.caller.call({
      operation: 'create join token',
      idempotent: false,
      run: async (ctx) => {
        const w = await call<Wire>(ctx, 'Tokens', 'Create', { ttl_seconds: ttl, description: options.description ?? '' });
        return { token: String(w.token ?? ''), info: tokenInfoFromWire(w.info as Wire | undefined) };
      },
    });
  }

  async list(): Promise<TokenInfo[]> {
    return this.caller.call({
      operation: 'list join tokens',
      idempotent: true,
      run: async (ctx) => ((await call<Wire>(ctx, 'Tokens', 'List', {})).tokens as Wire[] | undefined ?? []).map(tokenInfoFromWire),
    });
  }

  async delete(id: string): Promise<void> {
    await this.caller.call({
      operation: `delete join token ${JSON.stringify(id)}`,
      idempotent: false,
      run: (ctx) => call<Wire>(ctx, 'Tokens', 'Delete', { id }),
    });
  }
}
