import type { Level } from 'pino';

export interface MasterOptions {
  /** This member's name, e.g. "m1". */
  name: string;
  /** gRPC address for peers and clients, host:port. */
  listen: string;
  /** Initial members, name -> gRPC address (including this one). Ignored once the data dir holds state. */
  peers: Record<string, string>;
  dataDir: string;
  /** HTTP address for /healthz, /readyz and /metrics; empty = none. */
  http: string;
  /**
   * Dial these members at these addresses instead of the ones they advertise (NAT, tunnels,
   * or a test's proxies). The advertised addresses in --peers stay what the cluster records.
   */
  peerDial: Record<string, string>;
  /** Existing members' addresses: join a running cluster instead of bootstrapping one. */
  join: string[];
  clusterId: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Take a state-machine snapshot (and compact the log) every this many applied entries. */
  snapshotEntries: number;
  /** Entries kept in the log behind a snapshot, so slightly lagging followers need no snapshot. */
  snapshotCatchUpEntries: number;
  /** Largest client request accepted, in bytes (etcd's default is 1.5 MiB). */
  maxRequestBytes: number;
  logLevel: Level;
  /** `--join-token`: stored by a new leader if absent ('' = the first leader generates one into <data-dir>/join-token). */
  joinToken: string;
  /** `--node-grace`: a node not heard from this long is NotReady. */
  nodeGraceMs: number;
  /** `--pod-eviction-timeout`: pods of a NotReady node are deleted this long after it became NotReady. */
  podEvictionTimeoutMs: number;
}

export const DEFAULT_MASTER_OPTIONS = {
  clusterId: 'bramble',
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEntries: 10_000,
  snapshotCatchUpEntries: 5_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
  logLevel: 'info' as Level,
  http: '',
  join: [] as string[],
  peerDial: {} as Record<string, string>,
  joinToken: '',
  nodeGraceMs: 4000,
  podEvictionTimeoutMs: 5000,
};

/** Parse "m1=127.0.0.1:7001,m2=127.0.0.1:7002" into a map; throws naming the bad item. */
export function parsePeers(spec: string): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new Error(`--peers: "${item}" is not NAME=HOST:PORT`);
    const name = item.slice(0, eq);
    const address = item.slice(eq + 1);
    parseHostPort(address, `--peers ${name}`);
    if (peers[name]) throw new Error(`--peers: member "${name}" is listed twice`);
    peers[name] = address;
  }
  return peers;
}

export function parseHostPort(address: string, what: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${what}: "${address}" is not HOST:PORT`);
  }
  return { host: address.slice(0, colon), port };
}
