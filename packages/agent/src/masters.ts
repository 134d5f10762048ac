// Clients of the masters: one over every master for the API and the join, and one per master
// for heartbeats (each master keeps heartbeats in its own memory, so each must get them).
import { BrambleClient, type NodesApi, type ResourcesApi } from '@bramble/client';
import type { Logger } from 'pino';
import type { HeartbeatTarget } from './heartbeat.js';

export interface MasterApis {
  resources: ResourcesApi;
  nodes: NodesApi;
  heartbeatTargets: HeartbeatTarget[];
  close(): void;
}

export function connectMasters(masters: string[], heartbeatIntervalMs: number, logger: Logger): MasterApis {
  const clientLogger = { debug: (o: object, m?: string) => logger.debug(o, m), warn: (o: object, m?: string) => logger.debug(o, m) };
  // The agent's watches (its pods, services, config) and its requests (pod status, events) go to
  // one follower, picked per agent, rather than all to the leader: with many agents the followers
  // do the requests' work and the leader gets only the proposals they forward. (scripts/bench
  // schedule, 1,000 pods on 50 agents: all Running about 1 s sooner than with every request on the leader.)
  const main = new BrambleClient({ endpoints: masters, logger: clientLogger, spreadWatches: true, spreadCalls: true });
  // A heartbeat is worth nothing once the next one is due: one attempt, bounded by the interval.
  const timeoutMs = Math.max(500, Math.min(heartbeatIntervalMs, 2_000));
  const perMaster = masters.map((master) => ({
    master,
    client: new BrambleClient({ endpoints: [master], requestTimeoutMs: timeoutMs, dialTimeoutMs: timeoutMs, retries: { maxAttempts: 1 }, logger: clientLogger }),
  }));
  return {
    resources: main.resources,
    nodes: main.nodes,
    heartbeatTargets: perMaster.map(({ master, client }) => ({ master, nodes: client.nodes })),
    close() {
      main.close();
      for (const { client } of perMaster) client.close();
    },
  };
}
