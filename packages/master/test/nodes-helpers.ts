// Masters in one process for the node and controller-loop tests: free loopback ports,
// own temp dirs, and exactly these masters and clients stopped afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '@bramble/api';
import { BrambleClient } from '@bramble/client';
import { freePort, waitFor } from '@bramble/testkit';
import pino from 'pino';
import { startMaster, type Master } from '../src/index.js';
import type { MasterOptions } from '../src/options.js';

export class TestCluster {
  readonly masters = new Map<string, Master>();
  readonly peers: Record<string, string> = {};
  private readonly clients: BrambleClient[] = [];
  private dir = '';

  static async start(n: number, extra: Partial<MasterOptions> = {}): Promise<TestCluster> {
    const c = new TestCluster();
    c.dir = await mkdtemp(join(tmpdir(), 'bramble-nodes-'));
    try {
      for (let i = 1; i <= n; i++) c.peers[`m${i}`] = `127.0.0.1:${await freePort()}`;
      for (const [name, listen] of Object.entries(c.peers)) {
        const m = await startMaster({ name, listen, peers: c.peers, dataDir: join(c.dir, name), tickMs: 20, ...extra }, pino({ level: 'silent' }));
        c.masters.set(name, m);
      }
      await c.leader();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get dataDir(): string {
    return this.dir;
  }

  /** A client of every master (or only `endpoint`). */
  client(endpoint?: string): BrambleClient {
    const c = new BrambleClient({ endpoints: endpoint ? [endpoint] : Object.values(this.peers), requestTimeoutMs: 5000 });
    this.clients.push(c);
    return c;
  }

  /** The master whose controllers run (confirmed leader). */
  async leader(timeoutMs = 10_000): Promise<Master> {
    return waitFor('a leader running the controllers', () => [...this.masters.values()].find((m) => m.host.isLeader && m.nodes.controllers.active), timeoutMs);
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all([...this.masters.values()].map((m) => m.stop().catch(() => undefined)));
    this.masters.clear();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

export function agentNode(name: string, port = 10250): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: {
      capacity: { cpu: '4', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '4Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '127.0.0.11' }],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
    },
  };
}

/**
 * A fake agent: joins, then heartbeats every master every `everyMs` (one client per
 * master, as the real agent does) until stopped.
 */
export class FakeAgent {
  credential = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly perMaster: BrambleClient[];

  constructor(
    private readonly cluster: TestCluster,
    readonly name: string,
    private readonly token: string,
  ) {
    this.perMaster = Object.values(cluster.peers).map((e) => cluster.client(e));
  }

  async join(): Promise<void> {
    const r = await this.cluster.client().nodes.join(this.token, agentNode(this.name), this.credential || undefined);
    this.credential = r.credential;
  }

  startHeartbeats(everyMs = 200): void {
    const beat = (): void => {
      for (const c of this.perMaster) c.nodes.heartbeat(this.name, this.credential).catch(() => undefined);
    };
    beat();
    this.timer = setInterval(beat, everyMs);
  }

  stopHeartbeats(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
