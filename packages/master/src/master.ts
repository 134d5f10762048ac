import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { EntryType, Role, encodeConfChange, type Entry } from '@bramble/raft';
import { LevelStorage } from '@bramble/storage';
import { PeerTransport, peerServerOptions, serviceClient, serviceDefinition } from '@bramble/transport';
import pino, { type Logger } from 'pino';
import { ClusterService } from './cluster-service.js';
import { startHttpServer } from './http-server.js';
import { KvService } from './kv-service.js';
import { Metrics } from './metrics.js';
import { DEFAULT_MASTER_OPTIONS, parseHostPort, type MasterOptions } from './options.js';
import { encodeMemberContext } from './proposal-codec.js';
import { parseJoinToken, setUpNodeServices, type NodeServices } from './nodes/index.js';
import { RaftHost } from './raft-host.js';
import { LeaderlessWatchGuard } from './leaderless-watches.js';
import { RaftBackend, ResourceStore, ResourcesService } from './resources/index.js';
import { MasterStateMachine } from './state-machine.js';

export interface Master {
  readonly name: string;
  readonly host: RaftHost;
  readonly grpcPort: number;
  /** The Resources API over this master's replicated state (controllers run on it on the leader). */
  readonly resources: ResourceStore;
  /** Join tokens, the heartbeat table and the controller loop. */
  readonly nodes: NodeServices;
  /** Hand leadership over (when leader), then stop everything cleanly. */
  stop(): Promise<void>;
  /** Resolves when the master stops for a reason of its own (removed from the cluster, fatal error). */
  readonly done: Promise<string>;
}

/**
 * The log entries every initial member writes identically at bootstrap (as etcd does):
 * one ConfChange per member, term 1, committed. A member that joins later receives them
 * through replication and so learns the initial voters and their addresses.
 */
export function bootstrapEntries(peers: Record<string, string>): Entry[] {
  return Object.keys(peers)
    .sort()
    .map((name, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: 'addNode', nodeId: name, context: encodeMemberContext({ address: peers[name], httpAddress: '' }) }),
    }));
}

export async function startMaster(options: Partial<MasterOptions> & Pick<MasterOptions, 'name' | 'listen' | 'dataDir'>, logger?: Logger): Promise<Master> {
  const opts: MasterOptions = { ...DEFAULT_MASTER_OPTIONS, peers: {}, ...options } as MasterOptions;
  const log = logger ?? pino({ level: opts.logLevel, base: { member: opts.name } });
  parseHostPort(opts.listen, '--listen');
  if (opts.joinToken) {
    try {
      parseJoinToken(opts.joinToken, '--join-token');
    } catch (err) {
      throw new Error((err as Error).message);
    }
  }
  for (const [flag, ms] of [['--node-grace', opts.nodeGraceMs], ['--pod-eviction-timeout', opts.podEvictionTimeoutMs]] as const) {
    if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${flag}: must be a positive duration (got ${ms} ms)`);
  }
  await mkdir(opts.dataDir, { recursive: true });

  const storage = await LevelStorage.open(join(opts.dataDir, 'raft'));
  let sm: MasterStateMachine;
  let initialPeers: Record<string, string> = {};
  try {
    const fresh = storage.lastIndex() === 0 && storage.snapshot().meta.index === 0 && storage.initialState().hardState.term === 0;
    if (fresh && opts.join.length > 0) {
      initialPeers = await joinCluster(opts, log);
    } else if (fresh) {
      if (!opts.peers[opts.name]) {
        throw new Error(`--peers must include this member (${opts.name}=${opts.listen}) to bootstrap a new cluster, or use --join`);
      }
      const entries = bootstrapEntries(opts.peers);
      await storage.persist({ entries, hardState: { term: 1, vote: '', commit: entries.length }, mustSync: true });
      await storage.saveConfState({ voters: Object.keys(opts.peers).sort(), learners: [] }, 0);
      initialPeers = opts.peers;
      log.info({ peers: opts.peers }, 'bootstrapped a new cluster');
    } else {
      initialPeers = opts.peers;
    }
    sm = MasterStateMachine.restore(storage.snapshot().data);
    for (const m of sm.members.values()) initialPeers[m.name] = m.address;
  } catch (err) {
    await storage.close();
    throw err;
  }

  const dialAddress = (member: string, advertised: string): string => opts.peerDial[member] ?? advertised;
  const metrics = new Metrics(opts.name);
  let host!: RaftHost;
  const transport = new PeerTransport({
    self: opts.name,
    clusterId: opts.clusterId,
    peers: Object.fromEntries(
      Object.entries(initialPeers)
        .filter(([n]) => n !== opts.name)
        .map(([n, address]) => [n, dialAddress(n, address)]),
    ),
    handlers: {
      onMessage: (m) => host.step(m),
      onUnreachable: (peer) => {
        metrics.peerErrors.inc({ peer });
        host.reportUnreachable(peer);
      },
      onSnapshotStatus: (peer, ok) => host.reportSnapshot(peer, ok),
      onPeerDisconnected: (peer, info) => {
        if (info.abrupt) host.peerDisconnected(peer);
      },
    },
    logger: log.child({ component: 'transport' }),
  });
  host = new RaftHost(
    {
      name: opts.name,
      tickMs: opts.tickMs,
      electionTicks: opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks,
      snapshotEntries: opts.snapshotEntries,
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
      dialAddress,
      logger: log,
      metrics,
    },
    storage,
    transport,
    sm,
  );

  const requestTimeoutMs = 5000;
  const server = new grpc.Server(peerServerOptions());
  transport.addToServer(server);
  const kvService = new KvService(host, {
    clusterId: opts.clusterId,
    maxRequestBytes: opts.maxRequestBytes,
    requestTimeoutMs,
    maxWatchBufferBytes: 16 * 1024 * 1024,
  });
  server.addService(serviceDefinition('kv.proto', 'bramble.kv.KV'), kvService.handlers());
  const clusterService = new ClusterService(host, { clusterId: opts.clusterId, requestTimeoutMs, tickMs: opts.tickMs, electionTicks: opts.electionTicks });
  server.addService(serviceDefinition('cluster.proto', 'bramble.cluster.Cluster'), clusterService.handlers());
  const resourceStore = new ResourceStore(new RaftBackend(host, { requestTimeoutMs }), { maxObjectBytes: opts.maxRequestBytes });
  const watchGuard = new LeaderlessWatchGuard({
    member: opts.name,
    leaderName: () => host.leaderName,
    now: Date.now,
    graceMs: opts.tickMs * opts.electionTicks * 2,
    endWatches: (reason) => resourcesService.endWatches(reason),
  });
  const resourcesService = new ResourcesService(resourceStore, {
    maxRequestBytes: opts.maxRequestBytes,
    identity: () => ({ member: opts.name, leader: host.leaderName }),
    watchRefusal: () => watchGuard.refusal(),
  });
  server.addService(serviceDefinition('api.proto', 'bramble.api.Resources'), resourcesService.handlers());
  const nodes = setUpNodeServices({
    host,
    server,
    store: resourceStore,
    dataDir: opts.dataDir,
    joinToken: opts.joinToken,
    nodeGraceMs: opts.nodeGraceMs,
    podEvictionTimeoutMs: opts.podEvictionTimeoutMs,
    requestTimeoutMs,
    registry: metrics.registry,
    logger: log,
  });
  // A new leader makes sure the `default` namespace exists (writes create it on first need anyway).
  host.on('leader', (leader: string) => {
    if (leader !== opts.name) return;
    resourceStore.ensureDefaultNamespace().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'could not create the default namespace yet'));
  });

  let grpcPort: number;
  try {
    grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(opts.listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new Error(`--listen ${opts.listen}: ${/EADDRINUSE|address already in use/i.test(err.message) ? 'address already in use' : err.message}`));
        else resolve(port);
      }),
    );
  } catch (err) {
    await transport.close();
    await storage.close();
    throw err;
  }

  let httpServer: HttpServer | undefined;
  if (opts.http) {
    try {
      httpServer = await startHttpServer(opts.http, metrics, {
        healthy: () => host.healthy,
        ready: () => {
          const s = host.status();
          if (!s.leader) return { ok: false, reason: 'no leader' };
          if (s.applied < s.commit) return { ok: false, reason: `applying: ${s.applied}/${s.commit}` };
          return { ok: true, reason: 'ok' };
        },
      });
    } catch (err) {
      server.forceShutdown();
      await transport.close();
      await storage.close();
      throw err;
    }
  }

  host.start();
  nodes.start();
  const removalCheck = watchForOwnRemoval(host, opts, log);
  const watchGuardTimer = setInterval(() => watchGuard.check(), opts.tickMs * opts.electionTicks);
  watchGuardTimer.unref();
  log.info({ listen: opts.listen, http: opts.http || null, dataDir: opts.dataDir }, 'master started');

  let stopping: Promise<void> | undefined;
  let resolveDone!: (reason: string) => void;
  const done = new Promise<string>((r) => (resolveDone = r));

  const shutdown = async (handOver: boolean): Promise<void> => {
    removalCheck.stop();
    clearInterval(watchGuardTimer);
    // Controllers stop before leadership is handed over: no write of ours races the next leader.
    await nodes.stop();
    if (handOver && host.isLeader) await handOverLeadership(host, opts, log);
    await host.stop();
    clusterService.close();
    resourcesService.close();
    await transport.close();
    // Peers keep long-lived streams open to us: give calls in flight a moment, then cut.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 300);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    if (httpServer) await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
    await storage.close();
    log.info('master stopped');
  };
  const stop = (): Promise<void> => (stopping ??= shutdown(true));
  host.on('removed', () => {
    void (stopping ??= shutdown(false)).then(() => resolveDone('removed from the cluster'));
  });
  host.on('fatal', (err: Error) => {
    void (stopping ??= shutdown(false)).then(() => resolveDone(`fatal: ${err.message}`));
  });

  return { name: opts.name, host, grpcPort, resources: resourceStore, nodes, stop, done };
}

/** SIGTERM on the leader: transfer leadership to the most caught-up voter and wait (bounded) for it. */
async function handOverLeadership(host: RaftHost, opts: MasterOptions, log: Logger): Promise<void> {
  const s = host.status();
  const candidates = s.confState.voters.filter((v) => v !== opts.name).sort((a, b) => (s.progress[b]?.match ?? 0) - (s.progress[a]?.match ?? 0));
  const target = candidates[0];
  if (!target) return;
  log.info({ transferee: target }, 'stopping: handing leadership over first');
  host.transferLeader(target);
  const deadline = Date.now() + opts.tickMs * opts.electionTicks * 2;
  while (Date.now() < deadline && host.status().role === Role.Leader) await new Promise((r) => setTimeout(r, opts.tickMs / 2));
  // Let the new leader's first heartbeat reach the others before we go away.
  await new Promise((r) => setTimeout(r, opts.tickMs));
}

/**
 * A removed member is often never told that its removal committed: the leader drops it
 * from its configuration (and stops sending to it) when it applies the change. Such a
 * member ends up without a leader for good. So: after two election timeouts in a row
 * without a leader, ask the other members for a linearizable member list; if one
 * answers and we are not in it, we were removed, and stop (see RaftHost.learnedRemoved).
 */
function watchForOwnRemoval(host: RaftHost, opts: MasterOptions, log: Logger): { stop(): void } {
  const Client = serviceClient('cluster.proto', 'bramble.cluster.Cluster');
  const periodMs = opts.tickMs * opts.electionTicks;
  let leaderless = 0;
  let checking = false;
  const check = async (): Promise<void> => {
    const peers = [...host.sm.members.values()].filter((m) => m.name !== opts.name && m.address);
    for (const peer of peers) {
      const client = new Client(peer.address, grpc.credentials.createInsecure()) as unknown as Record<string, Function> & grpc.Client;
      try {
        const list = await new Promise<{ members: Array<{ name: string }> }>((resolve, reject) =>
          client.MemberList({ linearizable: true }, { deadline: new Date(Date.now() + periodMs) }, (err: grpc.ServiceError | null, res: { members: Array<{ name: string }> }) =>
            err ? reject(err) : resolve(res),
          ),
        );
        if (!list.members.some((m) => m.name === opts.name)) {
          host.learnedRemoved(peer.name);
          return;
        }
      } catch (err) {
        log.debug({ peer: peer.name, err: (err as Error).message }, 'membership check: peer did not answer');
      } finally {
        client.close();
      }
    }
  };
  const timer = setInterval(() => {
    leaderless = host.leaderName ? 0 : leaderless + 1;
    if (leaderless < 2 || checking) return;
    checking = true;
    void check().finally(() => (checking = false));
  }, periodMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** A new member: ask a running cluster to add us (as a learner) and learn the members' addresses. */
async function joinCluster(opts: MasterOptions, log: Logger): Promise<Record<string, string>> {
  const Client = serviceClient('cluster.proto', 'bramble.cluster.Cluster');
  const errors: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const endpoint of opts.join) {
      const client = new Client(endpoint, grpc.credentials.createInsecure()) as unknown as Record<string, Function> & grpc.Client;
      const call = <T>(method: string, req: object): Promise<T> =>
        new Promise((resolve, reject) =>
          client[method](req, { deadline: new Date(Date.now() + 5000) }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
        );
      try {
        type ListResponse = { members: Array<{ name: string; address: string }> };
        let list = await call<ListResponse>('MemberList', { linearizable: true });
        if (!list.members.some((m) => m.name === opts.name)) {
          log.info({ endpoint }, 'asking the cluster to add this member');
          list = await call<ListResponse>('MemberAdd', { name: opts.name, address: opts.listen, http_address: opts.http });
        }
        const me = list.members.find((m) => m.name === opts.name);
        if (me && me.address !== opts.listen) {
          throw new Error(`member ${opts.name} is registered at ${me.address}, but --listen is ${opts.listen}`);
        }
        return Object.fromEntries(list.members.map((m) => [m.name, m.address]));
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (e.code === grpc.status.INVALID_ARGUMENT || (e.message ?? '').includes('registered at')) throw err;
        errors.push(`${endpoint}: ${e.details || e.message}`);
      } finally {
        client.close();
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`--join: could not join through ${opts.join.join(', ')}: ${errors.slice(-3).join('; ')}`);
}
