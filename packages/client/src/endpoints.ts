// The masters a client knows: one lazily created gRPC channel per endpoint, which one to
// try first (the leader when known, else the last one that answered), and failover order.
import * as grpc from '@grpc/grpc-js';
import { clusterClientConstructor, kvClientConstructor } from './proto.js';
import type { Member } from './types.js';

/** One endpoint's channel, shared by its KV and Cluster service clients. */
export interface Connection {
  endpoint: string;
  channel: grpc.Channel;
  kv: grpc.Client;
  cluster: grpc.Client;
}

export interface EndpointPoolOptions {
  endpoints: readonly string[];
  channelOptions: grpc.ChannelOptions;
  credentials?: grpc.ChannelCredentials;
  /** An endpoint that failed is not preferred again (even as leader) for this long. Default 5 000 ms. */
  failureCooldownMs?: number;
  now?: () => number;
  /** Picks which follower serves this client's watches (see watchEndpoint). Default Math.random. */
  random?: () => number;
  /**
   * Calls start at this client's follower (watchEndpoint) instead of the leader: a client
   * that is one of many (an agent) spreads its requests over the followers, which do the
   * request's work (decoding, validation, the read-modify-write) and forward only the
   * resulting proposal to the leader. Default false.
   */
  callsToFollower?: boolean;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/** Throws a TypeError naming the bad endpoint unless it is host:port. */
export function checkEndpoint(endpoint: string, field = 'endpoint'): void {
  const m = HOST_PORT.exec(endpoint);
  if (!m || Number(m[2]) > 65535) throw new TypeError(`${field}: must be HOST:PORT (got ${JSON.stringify(endpoint)})`);
}

export class EndpointPool {
  readonly endpoints: readonly string[];
  private readonly connections = new Map<string, Connection>();
  private readonly credentials: grpc.ChannelCredentials;
  private readonly failedAtMs = new Map<string, number>();
  /** Member name -> endpoint, learned from response headers and member lists. */
  private readonly memberEndpoint = new Map<string, string>();
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private currentIndex = 0;
  private leaderName = '';
  /** Which of the followers this client's watches go to: fixed per client, so they stay together. */
  private readonly watchPick: number;
  private closed = false;

  constructor(private readonly opts: EndpointPoolOptions) {
    if (opts.endpoints.length === 0) throw new TypeError('endpoints: need at least one HOST:PORT');
    opts.endpoints.forEach((e, i) => checkEndpoint(e, `endpoints[${i}]`));
    this.endpoints = [...new Set(opts.endpoints)];
    this.credentials = opts.credentials ?? grpc.credentials.createInsecure();
    this.cooldownMs = opts.failureCooldownMs ?? 5_000;
    this.now = opts.now ?? Date.now;
    this.watchPick = Math.floor((opts.random ?? Math.random)() * 1_000_003);
  }

  /** The channel for `endpoint`, created on first use. */
  connection(endpoint: string): Connection {
    if (this.closed) throw new Error('client is closed');
    let c = this.connections.get(endpoint);
    if (!c) {
      const channel = new grpc.Channel(endpoint, this.credentials, this.opts.channelOptions);
      const KvClient = kvClientConstructor();
      const ClusterClient = clusterClientConstructor();
      c = {
        endpoint,
        channel,
        kv: new KvClient(endpoint, this.credentials, { channelOverride: channel }),
        cluster: new ClusterClient(endpoint, this.credentials, { channelOverride: channel }),
      };
      this.connections.set(endpoint, c);
    }
    return c;
  }

  /** The endpoint the next call starts with: the leader's if known and not recently failed, else the current one. */
  preferred(): string {
    const leader = this.leaderEndpoint();
    if (leader !== undefined && !this.recentlyFailed(leader)) return leader;
    return this.endpoints[this.currentIndex];
  }

  /**
   * Where a watch that any member can serve should go: one endpoint per client (the same for
   * all its watches), spread over the members by a per-client random pick, skipping the
   * leader when it is known (it already takes every write and runs the controllers) and
   * any endpoint that failed recently. preferred() when nothing else is healthy.
   */
  watchEndpoint(): string {
    const leader = this.leaderEndpoint();
    const healthy = this.endpoints.filter((e) => !this.recentlyFailed(e));
    const followers = healthy.filter((e) => e !== leader);
    const pool = followers.length > 0 ? followers : healthy;
    return pool.length > 0 ? pool[this.watchPick % pool.length] : this.preferred();
  }

  /** Every endpoint once, preferred first (callsToFollower: this client's follower), then the others in configured order after it. */
  order(): string[] {
    const first = this.endpoints.indexOf(this.opts.callsToFollower ? this.watchEndpoint() : this.preferred());
    const n = this.endpoints.length;
    return Array.from({ length: n }, (_, i) => this.endpoints[(first + i) % n]);
  }

  /** The leader's endpoint, when the leader is known by name and that name is mapped to a configured endpoint. */
  leaderEndpoint(): string | undefined {
    return this.leaderName ? this.memberEndpoint.get(this.leaderName) : undefined;
  }

  /** A leader is known by name but not where to reach it: a member list would tell. */
  leaderUnmapped(): boolean {
    return this.leaderName !== '' && !this.memberEndpoint.has(this.leaderName);
  }

  get leader(): string {
    return this.leaderName;
  }

  /** `endpoint` answered; `member` is who it says it is, `leader` who it says leads. */
  reportSuccess(endpoint: string, info: { member?: string; leader?: string } = {}): void {
    this.failedAtMs.delete(endpoint);
    const i = this.endpoints.indexOf(endpoint);
    if (i >= 0) this.currentIndex = i;
    if (info.member) this.learn(info.member, endpoint);
    if (info.leader) this.leaderName = info.leader;
  }

  /** `endpoint` could not serve a call: start the next call elsewhere. */
  reportFailure(endpoint: string): void {
    this.failedAtMs.set(endpoint, this.now());
    if (this.endpoints[this.currentIndex] === endpoint) {
      this.currentIndex = (this.currentIndex + 1) % this.endpoints.length;
    }
  }

  /** Map member names to configured endpoints by address (exact host:port match). */
  learnMembers(members: Member[], leader: string): void {
    for (const m of members) {
      if (this.endpoints.includes(m.address)) this.learn(m.name, m.address);
    }
    if (leader) this.leaderName = leader;
  }

  private learn(member: string, endpoint: string): void {
    if (!this.endpoints.includes(endpoint)) return;
    for (const [name, ep] of this.memberEndpoint) {
      if (ep === endpoint && name !== member) this.memberEndpoint.delete(name);
    }
    this.memberEndpoint.set(member, endpoint);
  }

  private recentlyFailed(endpoint: string): boolean {
    const at = this.failedAtMs.get(endpoint);
    return at !== undefined && this.now() - at < this.cooldownMs;
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) {
      c.kv.close();
      c.cluster.close();
      c.channel.close();
    }
    this.connections.clear();
  }
}

/**
 * Wait until `channel` is connected or has just failed to connect (TRANSIENT_FAILURE:
 * a call then fails at once with grpc-js's reason, before anything is sent). Rejects
 * only when still connecting at `deadlineMs`, which bounds dialing a host that drops packets.
 */
export function awaitConnected(channel: grpc.Channel, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      let state: grpc.connectivityState;
      try {
        state = channel.getConnectivityState(true);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (state === grpc.connectivityState.READY || state === grpc.connectivityState.TRANSIENT_FAILURE) {
        resolve();
        return;
      }
      if (state === grpc.connectivityState.SHUTDOWN) {
        reject(new Error('channel is closed'));
        return;
      }
      if (Date.now() >= deadlineMs) {
        reject(new DialTimeoutError());
        return;
      }
      channel.watchConnectivityState(state, deadlineMs, (err?: Error) => {
        if (err) reject(new DialTimeoutError());
        else check();
      });
    };
    check();
  });
}

export class DialTimeoutError extends Error {
  constructor() {
    super('not connected before the dial deadline');
    this.name = 'DialTimeoutError';
  }
}
