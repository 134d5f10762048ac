// Starting an agent in-process against the fakes, with its own temp dir, and stopping it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startAgent, type Agent, type AgentOptions, type MasterApis } from '../src/index.js';
import { FakeNodes, FakeResources, FakeRuntime } from './fakes.js';

export const TOKEN = 'abcdef.0123456789abcdef';
export const MASTERS = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];
export const ADDRESS = '127.0.0.1';

export interface Harness {
  dir: string;
  registry: Map<string, string>;
  joinNodes: FakeNodes;
  masterNodes: FakeNodes[];
  resources: FakeResources;
  runtime: FakeRuntime;
  apis: MasterApis;
  options: AgentOptions;
  start(overrides?: Partial<AgentOptions>): Promise<Agent>;
}

const harnesses: Harness[] = [];
const agents: Agent[] = [];

export async function harness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'bramble-agent-'));
  const registry = new Map<string, string>();
  const joinNodes = new FakeNodes('all', registry, TOKEN);
  const masterNodes = MASTERS.map((m) => new FakeNodes(m, registry, TOKEN));
  const resources = new FakeResources();
  const runtime = new FakeRuntime();
  const apis: MasterApis = { resources, nodes: joinNodes, heartbeatTargets: masterNodes.map((n) => ({ master: n.master, nodes: n })), close() {} };
  const options: AgentOptions = {
    name: 'node1',
    address: ADDRESS,
    masters: MASTERS,
    joinToken: TOKEN,
    dataDir: join(dir, 'agent'),
    port: 0,
    heartbeatIntervalMs: 50,
    configRetryMs: 50,
  };
  const h: Harness = {
    dir,
    registry,
    joinNodes,
    masterNodes,
    resources,
    runtime,
    apis,
    options,
    async start(overrides = {}) {
      const agent = await startAgent({ ...options, ...overrides }, { runtime: h.runtime, masters: apis, logger: pino({ level: 'silent' }), retryInitialMs: 20, retryMaxMs: 100 });
      agents.push(agent);
      return agent;
    },
  };
  harnesses.push(h);
  return h;
}

/** For afterEach: stop every agent started, remove every temp dir made. */
export async function cleanup(): Promise<void> {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await Promise.all(harnesses.splice(0).map((h) => rm(h.dir, { recursive: true, force: true })));
}
