// TCP proxies for the links between masters, one per directed link (from -> to): member
// `from` dials member `to` through the proxy (the master's --peer-dial flag), so the
// chaos tool can pass, cut, reset or delay each direction on its own. Raft traffic from
// `from` to `to` travels only on connections `from` opens, so cutting one proxy is a
// one-way partition.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type BlackholeHow =
  /** Accept and read, but throw the bytes away; on heal such connections are reset (their byte stream has a hole). */
  | 'drop'
  /** Stop reading in both directions (bytes wait in kernel buffers); on heal everything held is delivered, late. */
  | 'hold';

export type LinkMode =
  | { kind: 'pass' }
  | { kind: 'blackhole'; how: BlackholeHow }
  /** Refuse: new connections are reset as soon as they are accepted; open ones are reset too. */
  | { kind: 'reset' }
  /** Forward every chunk `ms` later, in order, both directions. */
  | { kind: 'delay'; ms: number };

export const PASS: LinkMode = { kind: 'pass' };

export function describeMode(mode: LinkMode): string {
  switch (mode.kind) {
    case 'pass':
      return 'pass';
    case 'blackhole':
      return `blackhole(${mode.how})`;
    case 'reset':
      return 'reset';
    case 'delay':
      return `delay(${mode.ms}ms)`;
  }
}

export interface ProxyStats {
  accepted: number;
  reset: number;
  droppedBytes: number;
  forwardedBytes: number;
}

/** One direction of a proxied connection: bytes read from `src` are written to `dst`. */
class Pipe {
  /** Delayed chunks scheduled but not yet written (for ordering and for end()). */
  private pending = 0;
  private lastDueMs = 0;
  private srcEnded = false;
  private blocked = false;

  constructor(
    private readonly conn: ProxyConnection,
    private readonly src: Socket,
    private readonly dst: () => Socket | undefined,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      this.srcEnded = true;
      this.maybeEnd();
    });
  }

  private onData(chunk: Buffer): void {
    const mode = this.conn.proxy.mode;
    const dst = this.dst();
    if (this.conn.dropping || mode.kind === 'blackhole' || !dst) {
      // Reading is paused for 'hold' and before an upstream exists, so this is 'drop'.
      this.conn.dropping = true;
      this.conn.proxy.stats.droppedBytes += chunk.length;
      return;
    }
    this.conn.proxy.stats.forwardedBytes += chunk.length;
    if (mode.kind === 'delay' && mode.ms > 0) {
      const due = Math.max(Date.now() + mode.ms, this.lastDueMs);
      this.lastDueMs = due;
      this.pending++;
      setTimeout(() => {
        this.pending--;
        if (!this.conn.closed && !this.conn.dropping) dst.write(chunk);
        this.maybeEnd();
      }, due - Date.now()).unref();
      return;
    }
    if (!dst.write(chunk)) {
      this.blocked = true;
      this.src.pause();
      dst.once('drain', () => {
        this.blocked = false;
        if (!this.conn.held) this.src.resume();
      });
    }
  }

  /** Resume reading unless the destination is still full. */
  resume(): void {
    if (!this.blocked) this.src.resume();
  }

  private maybeEnd(): void {
    const dst = this.dst();
    if (this.srcEnded && this.pending === 0 && dst && !this.conn.closed) dst.end();
  }
}

/** A connection accepted by a proxy, and (once passing) its upstream connection. */
class ProxyConnection {
  upstream: Socket | undefined;
  /** Bytes were thrown away: the stream is broken, reset it when the link heals. */
  dropping = false;
  /** Reading is paused in both directions ('hold'). */
  held = false;
  closed = false;
  private down: Pipe | undefined;
  private up: Pipe | undefined;

  constructor(
    readonly proxy: LinkProxy,
    readonly downstream: Socket,
  ) {
    downstream.on('error', () => this.close(true));
    downstream.on('close', () => this.close(false));
    this.up = new Pipe(this, downstream, () => this.upstream);
  }

  /** Open the upstream connection and start forwarding. */
  connectUpstream(target: string): void {
    const colon = target.lastIndexOf(':');
    const upstream = connect({ host: target.slice(0, colon), port: Number(target.slice(colon + 1)) });
    upstream.setNoDelay(true);
    this.upstream = upstream;
    upstream.on('error', () => this.close(true));
    upstream.on('close', () => this.close(false));
    this.down = new Pipe(this, upstream, () => this.downstream);
    if (this.held) upstream.pause();
  }

  hold(): void {
    this.held = true;
    this.downstream.pause();
    this.upstream?.pause();
  }

  release(): void {
    this.held = false;
    this.up?.resume();
    this.down?.resume();
  }

  /** Close both sides; `reset` sends a TCP RST instead of a FIN. */
  close(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.proxy.forget(this);
    for (const s of [this.downstream, this.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}

/** A proxy for one directed link, listening on a free loopback port. */
export class LinkProxy {
  mode: LinkMode = PASS;
  /** Where connections go (the real address of the `to` member); set before anyone dials. */
  target: string | undefined;
  readonly stats: ProxyStats = { accepted: 0, reset: 0, droppedBytes: 0, forwardedBytes: 0 };
  private readonly conns = new Set<ProxyConnection>();

  private constructor(
    private readonly server: Server,
    readonly address: string,
    readonly name: string,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(name: string, host = '127.0.0.1', target?: string): Promise<LinkProxy> {
    const server = createServer({ pauseOnConnect: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as { port: number }).port));
    });
    const proxy = new LinkProxy(server, `${host}:${port}`, name);
    proxy.target = target;
    return proxy;
  }

  /** Open connections (for tests and reports). */
  get connections(): number {
    return this.conns.size;
  }

  private accept(socket: Socket): void {
    this.stats.accepted++;
    socket.setNoDelay(true);
    if (this.mode.kind === 'reset' || !this.target) {
      this.stats.reset++;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    const conn = new ProxyConnection(this, socket);
    this.conns.add(conn);
    if (this.mode.kind === 'blackhole') {
      // Accepted, but nothing reaches the member: no upstream until the link heals.
      if (this.mode.how === 'hold') conn.hold();
      else {
        conn.dropping = true;
        socket.resume();
      }
      return;
    }
    conn.connectUpstream(this.target);
    socket.resume();
  }

  forget(conn: ProxyConnection): void {
    this.conns.delete(conn);
  }

  setMode(mode: LinkMode): void {
    this.mode = mode;
    for (const conn of [...this.conns]) {
      switch (mode.kind) {
        case 'reset':
          this.stats.reset++;
          conn.close(true);
          break;
        case 'blackhole':
          if (mode.how === 'hold') conn.hold();
          else {
            conn.dropping = true;
            conn.release();
          }
          break;
        case 'pass':
        case 'delay':
          if (conn.dropping) {
            // Bytes were lost mid-stream: the connection cannot carry on; its owner redials.
            this.stats.reset++;
            conn.close(true);
          } else {
            if (!conn.upstream) conn.connectUpstream(this.target!);
            conn.release();
          }
          break;
      }
    }
  }

  async close(): Promise<void> {
    for (const conn of [...this.conns]) conn.close(false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One LinkProxy per directed pair of members. */
export class ProxyMesh {
  private constructor(private readonly links: Map<string, LinkProxy>) {}

  static async create(members: string[], host = '127.0.0.1'): Promise<ProxyMesh> {
    const links = new Map<string, LinkProxy>();
    try {
      for (const from of members) {
        for (const to of members) {
          if (from !== to) links.set(`${from}>${to}`, await LinkProxy.listen(`${from}->${to}`, host));
        }
      }
    } catch (err) {
      await Promise.all([...links.values()].map((l) => l.close()));
      throw err;
    }
    return new ProxyMesh(links);
  }

  link(from: string, to: string): LinkProxy {
    const l = this.links.get(`${from}>${to}`);
    if (!l) throw new Error(`no proxy for the link ${from} -> ${to}`);
    return l;
  }

  /** For ProcessCluster's peerAddressFor: point the proxy at the real address, dial the proxy. */
  readonly peerAddressFor = (from: string, to: string, realAddress: string): string => {
    const l = this.link(from, to);
    l.target = realAddress;
    return l.address;
  };

  set(links: Array<[string, string]>, mode: LinkMode): void {
    for (const [from, to] of links) this.link(from, to).setMode(mode);
  }

  /** Every link touching `member`, both directions. */
  linksOf(member: string): Array<[string, string]> {
    return [...this.links.values()]
      .map((l) => l.name.split('->') as [string, string])
      .filter(([from, to]) => from === member || to === member);
  }

  /** Every link between a member of `group` and a member outside it, both directions. */
  linksAcross(group: string[]): Array<[string, string]> {
    const inside = new Set(group);
    return [...this.links.values()]
      .map((l) => l.name.split('->') as [string, string])
      .filter(([from, to]) => inside.has(from) !== inside.has(to));
  }

  healAll(): void {
    for (const l of this.links.values()) if (l.mode.kind !== 'pass') l.setMode(PASS);
  }

  stats(): Record<string, ProxyStats> {
    return Object.fromEntries([...this.links.values()].map((l) => [l.name, { ...l.stats }]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
