/**
 * Everything node-related on one master, wired together: the Nodes and Tokens gRPC
 * services, the heartbeat table, and the controller loop (with the bootstrap join
 * token and event sweeping as leader duties).
 */
import type * as grpc from '@grpc/grpc-js';
import type { ControllerClient } from '@bramble/controllers';
import { serviceDefinition } from '@bramble/transport';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RaftHost } from '../raft-host.js';
import { RaftBackend } from '../resources/backend.js';
import { ensureBootstrapToken } from './bootstrap-token.js';
import { ControllerLoop } from './controller-loop.js';
import { NodeCredentials } from './credentials.js';
import { HeartbeatStreams } from './heartbeat-stream.js';
import { HeartbeatTable, monotonicWallClock } from './heartbeats.js';
import { NodeRegistrar } from './registrar.js';
import { nodesServiceHandlers, tokensServiceHandlers } from './services.js';
import { TokenRegistry } from './tokens.js';

/** A credential without a Node is deleted only after this long (a join in progress writes its Node within a request timeout). */
const CREDENTIAL_MIN_AGE_MS = 60_000;

export interface NodeServicesOptions {
  host: RaftHost;
  server: grpc.Server;
  /** The resource store (Node objects; the controllers' client). */
  store: ControllerClient & { sweep?(nowMs: number): Promise<unknown>; controllerView(): ControllerClient };
  dataDir: string;
  /** `--join-token` ('' = generate one if the cluster has none). */
  joinToken: string;
  nodeGraceMs: number;
  podEvictionTimeoutMs: number;
  requestTimeoutMs: number;
  registry: Registry;
  logger: Logger;
}

export interface NodeServices {
  readonly tokens: TokenRegistry;
  readonly heartbeats: HeartbeatTable;
  /** The open Nodes.HeartbeatStream calls. */
  readonly heartbeatStreams: HeartbeatStreams;
  readonly controllers: ControllerLoop;
  /** Call once the Raft host runs. */
  start(): void;
  /**
   * Stops the controllers at once (before a leadership hand-over) and waits for a pass in flight;
   * ends the heartbeat streams and refuses new ones (UNAVAILABLE), so they do not hold up the server's shutdown.
   */
  stop(): Promise<void>;
}

export function setUpNodeServices(o: NodeServicesOptions): NodeServices {
  const backend = new RaftBackend(o.host, { requestTimeoutMs: o.requestTimeoutMs });
  const now = monotonicWallClock();
  const heartbeats = new HeartbeatTable(now);
  const tokens = new TokenRegistry(backend);
  const credentials = new NodeCredentials(backend);
  const registrar = new NodeRegistrar({ tokens, credentials, heartbeats, client: o.store, backend });
  const isLeader = (): boolean => o.host.isLeader;
  const heartbeatStreams = new HeartbeatStreams({ registrar, isLeader });
  o.server.addService(serviceDefinition('agent.proto', 'bramble.agent.Nodes'), nodesServiceHandlers({ registrar, isLeader, heartbeatStreams }));
  o.server.addService(serviceDefinition('agent.proto', 'bramble.agent.Tokens'), tokensServiceHandlers(tokens));
  const log = o.logger.child({ component: 'controllers' });
  const store = o.store;
  const controllers = new ControllerLoop({
    host: o.host,
    // Reads from the leader's applied state (see ResourceStore.controllerView).
    client: o.store.controllerView(),
    heartbeats,
    now,
    nodeGraceMs: o.nodeGraceMs,
    podEvictionTimeoutMs: o.podEvictionTimeoutMs,
    registry: o.registry,
    logger: log,
    requestTimeoutMs: o.requestTimeoutMs,
    onLeading: () => ensureBootstrapToken({ tokens, joinToken: o.joinToken, dataDir: o.dataDir, logger: log }),
    sweepEvents: async (nowMs) => {
      if (store.sweep) await store.sweep(nowMs);
      const nodes = await store.list('Node');
      await credentials.sweepOrphans(new Set(nodes.map((n) => n.metadata.name ?? '')), CREDENTIAL_MIN_AGE_MS);
    },
    sweepEveryMs: 10_000,
  });
  return {
    tokens,
    heartbeats,
    heartbeatStreams,
    controllers,
    start: () => controllers.start(),
    stop: () => {
      heartbeatStreams.closeAll('the master is shutting down; heartbeat another master');
      return controllers.stop();
    },
  };
}
