/** The Nodes and Tokens gRPC services of proto/agent.proto, served by every master. */
import type * as grpc from '@grpc/grpc-js';
import { nodeServiceStatus } from './errors.js';
import type { HeartbeatStreams } from './heartbeat-stream.js';
import type { NodeRegistrar } from './registrar.js';
import type { TokenInfo, TokenRegistry } from './tokens.js';

type Wire = Record<string, unknown>;
type UnaryHandler = (call: grpc.ServerUnaryCall<Wire, Wire>, callback: grpc.sendUnaryData<Wire>) => void;

function unary(handler: (req: Wire) => Promise<Wire>): UnaryHandler {
  return (call, callback) => {
    handler(call.request).then(
      (res) => callback(null, res),
      (err) => callback(nodeServiceStatus(err)),
    );
  };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export interface NodesServiceOptions {
  registrar: NodeRegistrar;
  /** Whether this master is the Raft leader right now. */
  isLeader(): boolean;
  /** Serves HeartbeatStream (tracks the open streams so a stopping master can end them). */
  heartbeatStreams: HeartbeatStreams;
}

export function nodesServiceHandlers(o: NodesServiceOptions): grpc.UntypedServiceImplementation {
  return {
    Join: unary(async (req) => {
      const result = await o.registrar.join(str(req.token), str(req.node_json), str(req.credential));
      return { credential: result.credential, node_json: JSON.stringify(result.node) };
    }),
    Heartbeat: unary(async (req) => {
      await o.registrar.heartbeat(str(req.node_name), str(req.credential));
      return { leader: o.isLeader() };
    }),
    HeartbeatStream: (call: grpc.ServerDuplexStream<Wire, Wire>) => o.heartbeatStreams.serve(call),
  };
}

function infoToWire(info: TokenInfo): Wire {
  return { id: info.id, description: info.description, expires: info.expires, created: info.created };
}

export function tokensServiceHandlers(tokens: TokenRegistry): grpc.UntypedServiceImplementation {
  return {
    Create: unary(async (req) => {
      const created = await tokens.create({ ttlSeconds: Number(req.ttl_seconds ?? 0), description: str(req.description) });
      return { token: created.token, info: infoToWire(created.info) };
    }),
    List: unary(async () => ({ tokens: (await tokens.list()).map(infoToWire) })),
    Delete: unary(async (req) => {
      await tokens.delete(str(req.id));
      return {};
    }),
  };
}
