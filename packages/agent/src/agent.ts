// The worker agent: recover the runtime, serve the Kubelet service, join, then heartbeat to every
// master and keep the node's pods in step with the API until stopped.
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import pino, { type Logger } from 'pino';
import { errorMessage } from './errors.js';
import { EventRecorder } from './events.js';
import { Heartbeater } from './heartbeat.js';
import { closeHttpServer, startHttpServer } from './http-server.js';
import { KubeletServer } from './kubelet-server.js';
import { connectMasters, type MasterApis } from './masters.js';
import { AgentMetrics } from './metrics.js';
import { buildNode } from './node-info.js';
import { resolveAgentOptions, type AgentOptions } from './options.js';
import { PodManager } from './pod-manager.js';
import { PodSource } from './pod-source.js';
import { ProxyEventRecorder, ServiceCache, ServiceProxy } from './proxy/index.js';
import { Registration } from './registration.js';
import { ProcessRuntime } from './runtime/index.js';
import type { PodRuntime } from './runtime/types.js';

/** What tests (and embedders) may supply instead of the real thing. */
export interface AgentDeps {
  runtime?: PodRuntime;
  masters?: MasterApis;
  logger?: Logger;
  /** Aborting it gives up a join still waiting for the masters. */
  signal?: AbortSignal;
  /** Back-off of API retries (join, list, watch, status, delete); defaults 200 ms .. 5 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export interface Agent {
  readonly name: string;
  /** The Kubelet gRPC port actually bound on the node's address. */
  readonly kubeletPort: number;
  /** `host:port` of /healthz and /metrics, when serving them. */
  readonly httpAddress: string | undefined;
  readonly credential: string;
  readonly runtime: PodRuntime;
  readonly pods: PodManager;
  readonly podSource: PodSource;
  readonly metrics: AgentMetrics;
  /** Services (and, with the proxy, Endpoints) of every namespace, as last heard from the masters. */
  readonly services: ServiceCache;
  /** Undefined with `proxy: false`. */
  readonly proxy: ServiceProxy | undefined;
  /** Stop heartbeats, watches and servers; pods keep running (like a kubelet that exits). */
  stop(): Promise<void>;
}

function countRunning(runtime: PodRuntime): number {
  return runtime.knownPods().filter((uid) => runtime.status(uid)?.phase === 'Running').length;
}

export async function startAgent(options: AgentOptions, deps: AgentDeps = {}): Promise<Agent> {
  const o = resolveAgentOptions(options);
  const logger = deps.logger ?? pino({ level: o.logLevel, base: { node: o.name } });
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const teardown: Array<() => unknown> = [];
  const runTeardown = async (): Promise<void> => {
    for (const step of teardown.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
  };
  try {
    const runtime = deps.runtime ?? new ProcessRuntime({ dataDir: o.dataDir, nodeAddress: o.address, logger });
    teardown.push(() => runtime.close());
    const recovered = await runtime.recover();
    if (recovered.length) logger.info({ pods: recovered.length }, 'runtime adopted pods left running by an earlier agent');

    const masters = deps.masters ?? connectMasters(o.masters, o.heartbeatIntervalMs, logger);
    teardown.push(() => masters.close());
    const retry = { retryInitialMs: deps.retryInitialMs, retryMaxMs: deps.retryMaxMs };
    const metrics = new AgentMetrics();
    const events = new EventRecorder(masters.resources, o.name, logger, metrics);
    teardown.push(() => events.close()); // after the pods stop, before the masters' connections close
    // Created here so pod start-up can read it (service env); started once the node has joined.
    const services = new ServiceCache({ resources: masters.resources, logger, endpoints: o.proxy, ...retry });
    const pods = new PodManager({
      nodeName: o.name,
      address: o.address,
      resources: masters.resources,
      runtime,
      events,
      metrics,
      logger,
      configRetryMs: o.configRetryMs,
      statusConcurrency: o.statusConcurrency,
      services,
      ...retry,
    });
    teardown.push(() => pods.stop());

    const kubelet = new KubeletServer({ nodeName: o.name, address: o.address, port: o.port, runtime, findPod: (ns, name) => pods.findPod(ns, name), logger });
    const kubeletPort = await kubelet.start();
    teardown.push(() => kubelet.stop());

    let http: Server | undefined;
    if (o.http) {
      http = await startHttpServer(o.http, {
        unhealthyReason: () => undefined,
        metrics: () => metrics.render({ podsRunning: countRunning(runtime), podsKnown: runtime.knownPods().length }),
      });
      const server = http;
      teardown.push(() => closeHttpServer(server));
    }

    const node = buildNode({ name: o.name, address: o.address, labels: o.labels, cpu: o.cpu, memory: o.memory, maxPods: o.maxPods, kubeletPort });
    const registration = new Registration({ dataDir: o.dataDir, joinToken: o.joinToken, node, nodes: masters.nodes, logger, ...retry });
    if (!(await registration.join(deps.signal))) throw new Error(`agent ${o.name}: stopped before it could join`);

    const heartbeater = new Heartbeater({
      nodeName: o.name,
      intervalMs: o.heartbeatIntervalMs,
      targets: masters.heartbeatTargets,
      credential: () => registration.credential,
      onNodeUnknown: (master, err) => void registration.rejoin(`master ${master}: ${errorMessage(err)}`),
      logger,
      metrics,
    });
    heartbeater.start();
    teardown.push(() => heartbeater.stop());

    services.start();
    teardown.push(() => services.stop());
    let proxy: ServiceProxy | undefined;
    if (o.proxy) {
      const proxyEvents = new ProxyEventRecorder({ events, nodeName: o.name });
      const started = new ServiceProxy({ address: o.address, source: services, logger, metrics, events: proxyEvents, drainTimeoutMs: o.proxyDrainTimeoutMs });
      started.start();
      teardown.push(() => started.stop());
      proxy = started;
    }

    const podSource = new PodSource({ resources: masters.resources, nodeName: o.name, sink: pods, logger, ...retry });
    podSource.start();
    teardown.push(() => podSource.stop());
    logger.info({ address: o.address, kubeletPort, http: o.http || undefined, masters: o.masters }, 'agent running');

    let stopping: Promise<void> | undefined;
    return {
      name: o.name,
      kubeletPort,
      httpAddress: o.http || undefined,
      get credential() {
        return registration.credential;
      },
      runtime,
      pods,
      podSource,
      metrics,
      services,
      proxy,
      stop: () => (stopping ??= runTeardown().then(() => logger.info('agent stopped; pods left running'))),
    };
  } catch (err) {
    await runTeardown();
    throw err;
  }
}
