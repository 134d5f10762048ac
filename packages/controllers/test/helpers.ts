/** Builders, a fake clock and a simulated mini cluster for the controller tests. */
import type { DaemonSet, Deployment, Node, Pod, ReplicaSet, Taint, Toleration } from '@bramble/api';
import { ownerReferenceTo } from '@bramble/api';
import {
  ControllerManager,
  MemoryClient,
  isoTime,
  seededRandom,
  setCondition,
  type ControllerName,
  type MemoryClientOptions,
  type PassResult,
} from '../src/index.js';

export class FakeClock {
  constructor(public nowMs = Date.UTC(2024, 4, 1, 10, 0, 0)) {}
  now = (): number => this.nowMs;
  advance(ms: number): number {
    this.nowMs += ms;
    return this.nowMs;
  }
}

export interface NodeInit {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  ready?: boolean | 'Unknown';
  unschedulable?: boolean;
}

export function node(name: string, init: NodeInit = {}): Node {
  const ready = init.ready ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(init.labels ?? {}) }, uid: `uid-node-${name}` },
    spec: { ...(init.unschedulable ? { unschedulable: true } : {}), ...(init.taints ? { taints: init.taints } : {}) },
    status: {
      capacity: { cpu: init.cpu ?? '4', memory: init.memory ?? '4Gi', pods: init.pods ?? '110' },
      allocatable: { cpu: init.cpu ?? '4', memory: init.memory ?? '4Gi', pods: init.pods ?? '110' },
      conditions: [{ type: 'Ready', status: ready === true ? 'True' : ready === false ? 'False' : 'Unknown' }],
    },
  };
}

export interface PodInit {
  cpu?: string;
  memory?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string; uid: string };
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  namespace?: string;
  creationTimestamp?: string;
  ready?: boolean;
}

let podCounter = 0;

export function pod(name: string, init: PodInit = {}): Pod {
  const resources = init.cpu || init.memory ? { requests: { ...(init.cpu ? { cpu: init.cpu } : {}), ...(init.memory ? { memory: init.memory } : {}) } } : undefined;
  const p: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: init.namespace ?? 'default',
      uid: `uid-pod-${name}-${++podCounter}`,
      labels: init.labels ?? {},
      creationTimestamp: init.creationTimestamp ?? isoTime(Date.UTC(2024, 4, 1, 10, 0, 0)),
    },
    spec: {
      containers: [{ name: 'main', command: ['sleep', '1000'], ...(resources ? { resources } : {}) }],
      ...(init.nodeName ? { nodeName: init.nodeName } : {}),
      ...(init.tolerations ? { tolerations: init.tolerations } : {}),
      ...(init.nodeSelector ? { nodeSelector: init.nodeSelector } : {}),
    },
    status: { phase: init.phase ?? 'Pending' },
  };
  if (init.owner) {
    p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: init.owner.kind, name: init.owner.name, uid: init.owner.uid, controller: true }];
  }
  if (init.ready) {
    p.status!.phase = 'Running';
    p.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: isoTime(Date.UTC(2024, 4, 1, 10, 0, 0)) }];
  }
  return p;
}

export interface TemplateInit {
  labels?: Record<string, string>;
  cpu?: string;
  memory?: string;
  version?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

function template(init: TemplateInit) {
  const labels = init.labels ?? { app: 'web' };
  const resources = init.cpu || init.memory ? { requests: { ...(init.cpu ? { cpu: init.cpu } : {}), ...(init.memory ? { memory: init.memory } : {}) } } : undefined;
  return {
    metadata: { labels },
    spec: {
      containers: [
        {
          name: 'web',
          image: `web:${init.version ?? '1'}`,
          command: ['node', 'server.js'],
          ...(resources ? { resources } : {}),
        },
      ],
      ...(init.nodeSelector ? { nodeSelector: init.nodeSelector } : {}),
      ...(init.tolerations ? { tolerations: init.tolerations } : {}),
    },
  };
}

export function replicaSet(name: string, replicas: number, init: TemplateInit & { minReadySeconds?: number } = {}): ReplicaSet {
  const t = template(init);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: { replicas, minReadySeconds: init.minReadySeconds ?? 0, selector: { matchLabels: t.metadata.labels }, template: t },
  };
}

export interface DeploymentInit extends TemplateInit {
  strategy?: Deployment['spec']['strategy'];
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  paused?: boolean;
}

export function deployment(name: string, replicas: number, init: DeploymentInit = {}): Deployment {
  const t = template(init);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: t.metadata.labels },
      template: t,
      ...(init.strategy ? { strategy: init.strategy } : {}),
      ...(init.minReadySeconds !== undefined ? { minReadySeconds: init.minReadySeconds } : {}),
      ...(init.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: init.revisionHistoryLimit } : {}),
      ...(init.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: init.progressDeadlineSeconds } : {}),
      ...(init.paused ? { paused: true } : {}),
    },
  };
}

export function daemonSet(name: string, init: TemplateInit = {}): DaemonSet {
  const t = template({ labels: { app: name }, ...init });
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'default' },
    spec: { selector: { matchLabels: t.metadata.labels }, template: t },
  };
}

export function ownedBy(owner: { apiVersion: string; kind: string; metadata: { name?: string; uid?: string } }) {
  return ownerReferenceTo(owner as never);
}

/** Pods that count: not being deleted and not finished. */
export function livePods(pods: Pod[]): Pod[] {
  return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

/**
 * A whole cluster in one process: a MemoryClient, a ControllerManager on a
 * fake clock and seeded random, heartbeating "agents" that start the pods
 * bound to them (Running and Ready `readyAfterMs` after they see them) and
 * confirm deletions. Kill an agent and it stops heartbeating and doing anything.
 */
export class MiniCluster {
  readonly clock: FakeClock;
  readonly client: MemoryClient;
  readonly manager: ControllerManager;
  readonly heartbeats = new Map<string, number>();
  readonly dead = new Set<string>();
  /** When each agent first saw a pod (uid -> ms). */
  private readonly seen = new Map<string, number>();
  readyAfterMs = 0;

  constructor(options: { seed?: number; clientOptions?: MemoryClientOptions; controllers?: ControllerName[]; nodeGraceMs?: number; podEvictionTimeoutMs?: number } = {}) {
    this.clock = new FakeClock();
    let uid = 0;
    this.client = new MemoryClient({ now: this.clock.now, uid: () => `uid-${++uid}`, random: seededRandom(options.seed ?? 7), ...(options.clientOptions ?? {}) });
    this.manager = new ControllerManager(this.client, {
      heartbeats: (name) => this.heartbeats.get(name),
      random: seededRandom(options.seed ?? 7),
      controllers: options.controllers,
      nodeGraceMs: options.nodeGraceMs,
      podEvictionTimeoutMs: options.podEvictionTimeoutMs,
    });
    this.manager.onLeadershipChange(true, this.clock.nowMs);
  }

  async addNode(name: string, init: NodeInit = {}): Promise<void> {
    const n = node(name, init);
    delete n.metadata.uid;
    await this.client.create(n);
    this.heartbeats.set(name, this.clock.nowMs);
  }

  kill(name: string): void {
    this.dead.add(name);
  }

  /** Every live agent heartbeats and reconciles its pods. */
  async agents(): Promise<void> {
    const now = this.clock.nowMs;
    for (const n of await this.client.list('Node')) {
      const name = n.metadata.name ?? '';
      if (this.dead.has(name)) continue;
      this.heartbeats.set(name, now);
      for (const p of await this.client.list('Pod', { fieldSelector: `spec.nodeName=${name}` })) {
        const uid = p.metadata.uid ?? '';
        if (p.metadata.deletionTimestamp) {
          await this.client.delete('Pod', p.metadata.namespace, p.metadata.name ?? '', { gracePeriodSeconds: 0 });
          continue;
        }
        if (!this.seen.has(uid)) this.seen.set(uid, now);
        const ready = now - (this.seen.get(uid) ?? now) >= this.readyAfterMs;
        const phase = 'Running';
        const isReady = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
        if (p.status?.phase === phase && isReady === ready) continue;
        const conditions = setCondition(p.status?.conditions, { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: isoTime(now) });
        await this.client.updateStatus({ ...p, status: { ...p.status, phase, conditions } });
      }
    }
  }

  /** Agents act, then a controller pass runs; `ms` later. */
  async step(ms = 1000): Promise<PassResult | undefined> {
    this.clock.advance(ms);
    await this.agents();
    const result = await this.manager.tick(this.clock.nowMs);
    if (result) {
      for (const r of result.reports) {
        if (r.errors.length > 0) throw new Error(`${r.controller}: ${r.errors.map((e) => `${e.object}: ${e.message}`).join('; ')}`);
      }
    }
    return result;
  }

  async run(steps: number, ms = 1000): Promise<void> {
    for (let i = 0; i < steps; i++) await this.step(ms);
  }

  async pods(): Promise<Pod[]> {
    return livePods(await this.client.list('Pod'));
  }

  async runningPerNode(): Promise<Record<string, number>> {
    const pods = (await this.pods()).filter((p) => p.spec.nodeName && p.status?.phase === 'Running');
    return countBy(pods, (p) => p.spec.nodeName ?? '');
  }
}

/**
 * Counts how many tasks run together: `around(fn)` marks one in flight across a turn of the
 * event loop; each time the last of a group finishes, the group's size goes into `batches`.
 */
export class BatchCounter {
  readonly batches: number[] = [];
  private inFlight = 0;
  private batchMax = 0;

  async around<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.batchMax = Math.max(this.batchMax, this.inFlight);
    await new Promise((r) => setImmediate(r));
    try {
      return await fn();
    } finally {
      if (--this.inFlight === 0) {
        this.batches.push(this.batchMax);
        this.batchMax = 0;
      }
    }
  }
}
