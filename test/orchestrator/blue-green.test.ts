// Blue/green (issue 6 item 4) on real processes: 3 masters, 3 agents (node1-3, each on its own loopback address). The
// recipe's own manifests, read from docs/blue-green.md, are applied with `bramble apply`: two
// Deployments (web-blue, web-green, label `color`) behind one Service `web`. Under load (new
// connections to the service port of every node, >= 20 req/s per node), applying the Service
// with `color: green` moves new connections to green, and back to blue, with zero failed
// requests; a keep-alive connection opened before the switch stays on blue until the proxy's
// drain timeout closes it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDefaults, NODE_PORT_MAX, NODE_PORT_MIN, parseManifests, validate, type Deployment, type Endpoints, type Pod, type Service } from '@bramble/api';
import { run, type CliEnvironment } from '@bramble/cli';
import { OrchestratorCluster, freePort, waitFor } from '@bramble/testkit';
import { runBramble, type CliResult } from './helpers.js';

const DOC = fileURLToPath(new URL('../../docs/blue-green.md', import.meta.url));
const FILES = ['web-blue.yaml', 'web-service.yaml', 'web-green.yaml', 'web-preview.yaml'];
/** The agents' --proxy-drain-timeout here (30 s by default): long enough to see an old connection outlive the switch. */
const DRAIN_MS = 3_000;
/** Load: per node, WORKERS sequential clients, each starting a request every INTERVAL_MS at most. */
// 3 x 1000/75 = 40 req/s per node at most; it stays >= 20 while a request takes up to 150 ms.
const WORKERS = 3;
const INTERVAL_MS = 75;
const MIN_RATE = 20;

type Color = 'blue' | 'green';

/** The ```yaml blocks of the doc whose first line is `# file: NAME`, by NAME. */
function docManifests(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of markdown.matchAll(/```yaml\n# file: (\S+)\n([\s\S]*?)```/g)) out.set(m[1], `# file: ${m[1]}\n${m[2]}`);
  return out;
}

/** Replace exactly one match of `pattern` (the doc changed shape otherwise: fail loudly). */
function replaceOnce(text: string, pattern: RegExp, replacement: string, what: string): string {
  const hits = text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)) ?? [];
  if (hits.length !== 1) throw new Error(`docs/blue-green.md: expected one ${what}, found ${hits.length}`);
  return text.replace(pattern, replacement);
}

/** `sed -i 's/color: FROM/color: TO/'` on the text, as the recipe does to web-service.yaml. */
function sedColor(text: string, from: Color, to: Color): string {
  return text.split('\n').map((line) => line.replace(`color: ${from}`, `color: ${to}`)).join('\n');
}

function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port free on every node address right now (service ports are served on all of them). */
async function portFreeOn(hosts: string[], not: number[] = []): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort(hosts[0]);
    if ((port >= NODE_PORT_MIN && port <= NODE_PORT_MAX) || not.includes(port)) continue;
    if ((await Promise.all(hosts.map((h) => bindable(h, port)))).every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

/** One GET on a fresh connection (no keep-alive: every request is a new proxied connection); the reply's color. */
function getColor(host: string, port: number, agent: Agent | false = false, onSocket?: (s: Socket) => void): Promise<Color> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        let color: unknown;
        try {
          color = (JSON.parse(body) as { color?: unknown }).color;
        } catch (err) {
          reject(new Error(`bad body ${JSON.stringify(body)} (${(err as Error).message})`));
          return;
        }
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}: ${body.trim()}`));
        else if (color !== 'blue' && color !== 'green') reject(new Error(`no color in ${body.trim()}`));
        else resolve(color);
      });
      res.on('error', reject);
    });
    if (onSocket) req.on('socket', onSocket);
    req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  at: number;
  color: Color;
}

/** Sequential clients per node, each a new connection per request; every failure is kept. */
class Load {
  readonly samples: Sample[][];
  readonly failures: string[] = [];
  readonly hostOf: string[];
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly started = Date.now();
  private stopped?: number;

  constructor(hosts: string[], port: number) {
    this.hostOf = hosts.flatMap((h) => Array.from({ length: WORKERS }, () => h));
    this.samples = this.hostOf.map(() => []);
    this.loops = this.hostOf.map((host, i) => this.worker(host, port, this.samples[i]));
  }

  private async worker(host: string, port: number, out: Sample[]): Promise<void> {
    while (this.running) {
      const begun = Date.now();
      try {
        out.push({ at: begun, color: await getColor(host, port) });
      } catch (err) {
        this.failures.push(`${new Date(begun).toISOString()} ${host}:${port}: ${(err as Error).message}`);
      }
      // Pacing, not waiting for a condition: at most one request per INTERVAL_MS per worker.
      const rest = INTERVAL_MS - (Date.now() - begun);
      if (rest > 0 && this.running) await new Promise((r) => setTimeout(r, rest));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.stopped = Date.now();
  }

  /** Each worker's colors as runs: blue,blue,green,green -> [blue, green]. */
  runs(): Color[][] {
    return this.samples.map((s) => s.map((x) => x.color).filter((c, i, all) => i === 0 || all[i - 1] !== c));
  }

  /** Every worker's last `n` replies (all made after `since`) are `color`. */
  settled(color: Color, since: number, n = 5): boolean {
    return this.samples.every((s) => s.length >= n && s.slice(-n).every((x) => x.color === color && x.at >= since));
  }

  /** Replies of `color` every worker got after `since`, the fewest. */
  fewest(color: Color, since: number): number {
    return Math.min(...this.samples.map((s) => s.filter((x) => x.color === color && x.at >= since).length));
  }

  /** The first reply of `color` after `since` any worker on `host` got. */
  firstOn(host: string, color: Color, since: number): number | undefined {
    const times = this.samples.flatMap((s, i) => (this.hostOf[i] === host ? s.filter((x) => x.color === color && x.at >= since).map((x) => x.at) : []));
    return times.length ? Math.min(...times) : undefined;
  }

  /** Replies per second per node over the whole run. */
  ratePerHost(): Map<string, number> {
    const seconds = ((this.stopped ?? Date.now()) - this.started) / 1000;
    const rates = new Map<string, number>();
    this.samples.forEach((s, i) => rates.set(this.hostOf[i], (rates.get(this.hostOf[i]) ?? 0) + s.length / seconds));
    return rates;
  }
}

/** One keep-alive connection, pinged until something closes it: which colors it saw, and when it closed. */
class KeepAlive {
  readonly replies: Sample[] = [];
  closedAt?: number;
  /** A ping that failed while the connection was still open (a ping in flight when the drain cuts it is expected). */
  failure?: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket?: Socket;
  private readonly loop: Promise<void>;
  private running = true;

  constructor(host: string, port: number) {
    this.loop = (async () => {
      while (this.running && this.closedAt === undefined) {
        const begun = Date.now();
        let other = false;
        try {
          const color = await getColor(host, port, this.agent, (s) => {
            if (!this.socket) {
              this.socket = s;
              s.once('close', () => (this.closedAt = Date.now()));
            } else if (s !== this.socket) other = true;
          });
          if (other) break; // the first connection is gone; a new one proves nothing
          this.replies.push({ at: begun, color });
        } catch (err) {
          if (this.closedAt === undefined) this.failure = (err as Error).message;
          break;
        }
        const rest = 300 - (Date.now() - begun);
        if (rest > 0 && this.running) await new Promise((r) => setTimeout(r, rest));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.agent.destroy();
  }
}

function readyAddresses(ep: Endpoints | undefined): string[] {
  return (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).flatMap((a) => (s.ports ?? []).map((p) => `${a.ip}:${p.port}`))).sort();
}

function podAddress(pod: Pod): string {
  return `${pod.status?.hostIP}:${pod.status?.containerStatuses?.[0]?.ports?.[0]?.hostPort}`;
}

describe('blue/green behind one Service on a 3-master, 3-agent process cluster', () => {
  let cluster: OrchestratorCluster;
  let home: string;
  let nodes: string[];
  let port: number;
  let previewPort: number;
  let load: Load | undefined;
  let keepAlive: KeepAlive | undefined;
  const manifests = new Map<string, string>();
  const path = (file: string): string => join(home, file);

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'bramble-bluegreen-'));
    cluster = await OrchestratorCluster.start({ masters: 3, agents: 3, agentArgs: ['--proxy-drain-timeout', `${DRAIN_MS}ms`] });
    nodes = [...cluster.agents.values()].map((a) => a.address);
    port = await portFreeOn(nodes);
    previewPort = await portFreeOn(nodes, [port]);
    // The doc's manifests, with this machine's node binary and free ports; otherwise verbatim.
    for (const [file, text] of docManifests(await readFile(DOC, 'utf8'))) {
      let local = text;
      if (file.startsWith('web-') && text.includes('kind: Deployment')) local = replaceOnce(local, /command: \["node", /, `command: [${JSON.stringify(process.execPath)}, `, 'command: ["node", ...]');
      if (file === 'web-service.yaml') local = replaceOnce(local, /^(\s+)port: 8090$/m, `$1port: ${port}`, 'port: 8090');
      if (file === 'web-preview.yaml') local = replaceOnce(local, /^(\s+)port: 8091$/m, `$1port: ${previewPort}`, 'port: 8091');
      manifests.set(file, local);
      await writeFile(path(file), local);
    }
  }, 120_000);

  afterAll(async () => {
    await keepAlive?.stop().catch(() => undefined);
    await load?.stop();
    await cluster?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  }, 60_000);

  /** `bramble ARGS` in-process against the cluster's masters. */
  function bramble(...args: string[]): Promise<CliResult> {
    return runBramble(cluster, home, ...args);
  }

  async function readyPodAddresses(color: Color): Promise<string[]> {
    const pods = (await cluster.resources().list('Pod', { namespace: 'default', labelSelector: `app=web,color=${color}` })).items;
    return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map(podAddress).sort();
  }

  /** Wait until Endpoints `name` lists exactly the 3 ready pods of `color`. */
  async function waitForEndpoints(name: string, color: Color): Promise<void> {
    let last = '';
    await waitFor(
      `Endpoints ${name} to list the 3 ready ${color} pods`,
      async () => {
        const [listed, pods] = await Promise.all([cluster.resources().get('Endpoints', 'default', name).then(readyAddresses, () => []), readyPodAddresses(color)]);
        last = `listed ${listed.join(',')}; ${color} pods ${pods.join(',')}`;
        return pods.length === 3 && JSON.stringify(listed) === JSON.stringify(pods);
      },
      30_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  }

  async function switchTo(color: Color): Promise<number> {
    const from: Color = color === 'green' ? 'blue' : 'green';
    const text = sedColor(manifests.get('web-service.yaml')!, from, color);
    expect(text).not.toBe(manifests.get('web-service.yaml'));
    manifests.set('web-service.yaml', text);
    await writeFile(path('web-service.yaml'), text);
    const at = Date.now();
    expect(await bramble('apply', '-f', path('web-service.yaml'))).toEqual({ code: 0, stdout: 'service/web configured\n', stderr: '' });
    return at;
  }

  it('the recipe has the four manifests, each valid, and the selector the switch edits', () => {
    expect([...manifests.keys()].sort()).toEqual([...FILES].sort());
    for (const [file, text] of manifests) {
      for (const o of parseManifests(text, file)) expect(validate(applyDefaults(o)), file).toEqual([]);
    }
    const [blue] = parseManifests(manifests.get('web-blue.yaml')!) as Deployment[];
    const [green] = parseManifests(manifests.get('web-green.yaml')!) as Deployment[];
    const [svc] = parseManifests(manifests.get('web-service.yaml')!) as Service[];
    expect(blue.spec.selector.matchLabels).toEqual({ app: 'web', color: 'blue' });
    expect(green.spec.selector.matchLabels).toEqual({ app: 'web', color: 'green' });
    expect(blue.spec.template.spec.containers[0].env).toContainEqual({ name: 'COLOR', value: 'blue' });
    expect(green.spec.template.spec.containers[0].env).toContainEqual({ name: 'COLOR', value: 'green' });
    expect(svc.spec.selector).toEqual({ app: 'web', color: 'blue' });
    // The switch is this one edit: green's manifest is blue's with the color changed.
    expect(manifests.get('web-green.yaml')!.replace('web-green.yaml', '')).toBe(manifests.get('web-blue.yaml')!.replace('web-blue.yaml', '').replaceAll('blue', 'green'));
  });

  it('blue serves through every node; green runs beside it, previewed on its own port, while web stays blue', async () => {
    expect(await bramble('apply', '-f', path('web-blue.yaml'), '-f', path('web-service.yaml'))).toEqual({
      code: 0,
      stdout: 'deployment.apps/web-blue created\nservice/web created\n',
      stderr: '',
    });
    expect(await bramble('--timeout', '60s', 'rollout', 'status', 'deployment/web-blue')).toMatchObject({ code: 0 });
    await waitForEndpoints('web', 'blue');
    for (const host of nodes) await waitFor(`${host}:${port} to answer blue`, () => getColor(host, port).then((c) => c === 'blue', () => false), 20_000, 100);

    load = new Load(nodes, port);
    expect(await bramble('apply', '-f', path('web-green.yaml'), '-f', path('web-preview.yaml'))).toEqual({
      code: 0,
      stdout: 'deployment.apps/web-green created\nservice/web-preview created\n',
      stderr: '',
    });
    expect(await bramble('--timeout', '60s', 'rollout', 'status', 'deployment/web-green')).toMatchObject({ code: 0 });
    await waitForEndpoints('web-preview', 'green');
    for (const host of nodes) {
      await waitFor(`${host}:${previewPort} to answer`, () => getColor(host, previewPort).then(() => true, () => false), 20_000, 100);
      for (let i = 0; i < 3; i++) expect(await getColor(host, previewPort), `preview through ${host}`).toBe('green');
    }
    // Green is up and ready, yet `web` still selects blue only.
    await waitForEndpoints('web', 'blue');
    const now = Date.now();
    await waitFor('every load worker to get 10 replies', () => load!.fewest('blue', 0) >= 10 && load!.samples.every((s) => s.at(-1)!.at >= now), 20_000, 50);
    expect(load.failures).toEqual([]);
    expect(load.runs()).toEqual(load.samples.map(() => ['blue']));
  }, 180_000);

  it('applying the Service with color: green moves new connections on every node to green, with zero failed requests', async () => {
    const host = nodes[0];
    keepAlive = new KeepAlive(host, port);
    await waitFor('the keep-alive connection to answer', () => keepAlive!.replies.length > 0, 10_000, 20);
    expect(keepAlive.replies[0].color).toBe('blue');

    const switched = await switchTo('green');
    await waitForEndpoints('web', 'green');
    await waitFor('every load worker to get only green replies', () => load!.settled('green', switched), 20_000, 50);
    expect(load!.failures).toEqual([]);

    // The connection opened before the switch kept reaching blue after this node's proxy had switched...
    const greenOnHost = load!.firstOn(host, 'green', switched)!;
    await waitFor('the keep-alive connection to close', () => keepAlive!.closedAt !== undefined || keepAlive!.failure !== undefined, DRAIN_MS + 15_000, 20);
    expect(keepAlive.failure).toBeUndefined();
    const afterSwitch = keepAlive.replies.filter((r) => r.at > greenOnHost);
    expect(afterSwitch.length, 'keep-alive replies after the node switched').toBeGreaterThan(0);
    expect(new Set(keepAlive.replies.map((r) => r.color))).toEqual(new Set(['blue']));
    // ...until the drain timeout, counted from when the proxy learned of the switch (after the apply).
    expect(keepAlive.closedAt! - switched).toBeGreaterThanOrEqual(DRAIN_MS - 50);
    expect(keepAlive.closedAt! - switched).toBeLessThan(DRAIN_MS + 10_000);
    await keepAlive.stop();

    await waitFor('every load worker to get 20 green replies', () => load!.fewest('green', switched) >= 20, 20_000, 50);
    expect(load!.failures).toEqual([]);
    expect(load!.runs()).toEqual(load!.samples.map(() => ['blue', 'green']));
  }, 90_000);

  it('switching back moves new connections to blue; removing green afterwards fails nothing; >= 20 req/s per node throughout', async () => {
    const switched = await switchTo('blue');
    await waitForEndpoints('web', 'blue');
    await waitFor('every load worker to get only blue replies', () => load!.settled('blue', switched), 20_000, 50);
    await waitFor('every load worker to get 20 blue replies', () => load!.fewest('blue', switched) >= 20, 20_000, 50);

    // Step 5 of the recipe, the other way round: the idle color goes, the Service is untouched.
    expect(await bramble('delete', '-f', path('web-green.yaml'), '-f', path('web-preview.yaml'))).toMatchObject({ code: 0 });
    await waitFor('the green pods to be gone', async () => (await cluster.resources().list('Pod', { namespace: 'default', labelSelector: 'app=web,color=green' })).items.length === 0, 30_000, 100);
    const gone = Date.now();
    await waitFor('every load worker to get 10 more replies', () => load!.samples.every((s) => s.filter((x) => x.at >= gone).length >= 10), 20_000, 50);

    await load!.stop();
    const total = load!.samples.reduce((n, s) => n + s.length, 0) + load!.failures.length;
    const rates = [...load!.ratePerHost()].map(([host, rate]) => `${host} ${rate.toFixed(1)}/s`).join(', ');
    console.log(`blue/green: ${total} requests, ${load!.failures.length} failed, through blue -> green -> blue (${rates})`);
    expect(load!.failures).toEqual([]);
    expect(load!.runs()).toEqual(load!.samples.map(() => ['blue', 'green', 'blue']));
    for (const [host, rate] of load!.ratePerHost()) expect(rate, `requests per second through ${host}:${port}`).toBeGreaterThanOrEqual(MIN_RATE);
    await waitForEndpoints('web', 'blue');
  }, 120_000);
});
