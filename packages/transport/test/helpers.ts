// Shared by the transport tests: servers on free loopback ports, transports, waiting.
import * as grpc from '@grpc/grpc-js';
import { EntryType, MessageType, type Entry, type Message, type NodeId } from '@bramble/raft';
import { PeerTransport, peerServerOptions, type PeerTransportOptions, type TransportHandlers } from '../src/index.js';

export interface Started {
  server: grpc.Server;
  port: number;
  address: string;
}

/** A gRPC server on 127.0.0.1 at `port` (0: a free one), with the peer options. */
export async function startServer(port = 0, maxMessageBytes?: number): Promise<Started> {
  const server = new grpc.Server(peerServerOptions({ maxMessageBytes }));
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound, address: `127.0.0.1:${bound}` };
}

/** A port nothing listens on (bound once, then released). */
export async function deadAddress(): Promise<string> {
  const s = await startServer();
  s.server.forceShutdown();
  return s.address;
}

/** Waits for `cond` by polling; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function entry(index: number, data: Uint8Array, term = 1): Entry {
  return { term, index, type: EntryType.Normal, data };
}

export function msg(from: NodeId, to: NodeId, fields: Partial<Message> = {}): Message {
  return {
    type: MessageType.Heartbeat,
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

/** Records what a transport hands to its host. */
export class Recorder implements TransportHandlers {
  messages: Message[] = [];
  unreachable: NodeId[] = [];
  snapshotStatus: { peer: NodeId; ok: boolean }[] = [];
  disconnected: { peer: NodeId; direction: string; abrupt: boolean }[] = [];
  onMessage = (m: Message) => {
    this.messages.push(m);
  };
  onUnreachable = (peer: NodeId) => {
    this.unreachable.push(peer);
  };
  onSnapshotStatus = (peer: NodeId, ok: boolean) => {
    this.snapshotStatus.push({ peer, ok });
  };
  onPeerDisconnected = (peer: NodeId, info: { direction: string; abrupt: boolean }) => {
    this.disconnected.push({ peer, direction: info.direction, abrupt: info.abrupt });
  };
}

/** Owns servers and transports of one test and stops them all. */
export class Fixture {
  servers: grpc.Server[] = [];
  transports: PeerTransport[] = [];
  timers: NodeJS.Timeout[] = [];

  async server(port = 0, maxMessageBytes?: number): Promise<Started> {
    const s = await startServer(port, maxMessageBytes);
    this.servers.push(s.server);
    return s;
  }

  transport(opts: PeerTransportOptions, server?: grpc.Server): PeerTransport {
    const t = new PeerTransport(opts);
    if (server) t.addToServer(server);
    this.transports.push(t);
    return t;
  }

  /** N members named m1..mN, each with its own server and a Recorder, all knowing each other. */
  async cluster(n: number, extra: Partial<PeerTransportOptions> = {}, clusterId = 'c1'): Promise<{ ids: NodeId[]; started: Started[]; transports: PeerTransport[]; recorders: Recorder[] }> {
    const ids = Array.from({ length: n }, (_, i) => `m${i + 1}`);
    const started = await Promise.all(ids.map(() => this.server(0, extra.maxMessageBytes)));
    const peers = Object.fromEntries(ids.map((id, i) => [id, started[i].address]));
    const recorders = ids.map(() => new Recorder());
    const transports = ids.map((id, i) => this.transport({ self: id, clusterId, peers, handlers: recorders[i], ...extra }, started[i].server));
    return { ids, started, transports, recorders };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all(this.transports.map((t) => t.close()));
    this.transports = [];
    for (const s of this.servers) s.forceShutdown();
    this.servers = [];
  }
}
