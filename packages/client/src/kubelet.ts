// KubeletClient: pod logs and live usage from one agent's Kubelet service
// (proto/agent.proto). Unlike BrambleClient it talks to exactly one address, the
// node's (InternalIP:daemonEndpoints.kubeletEndpoint.Port): there is no failover, a
// node's logs live only on that node.
import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';
import { checkEndpoint } from './endpoints.js';
import { BrambleError, fromServiceError, isServiceError } from './errors.js';
import { Settle } from './stream.js';

export const AGENT_PROTO = 'agent.proto';
export const KUBELET_SERVICE = 'bramble.agent.Kubelet';

let kubeletCtor: grpc.ServiceClientConstructor | undefined;

function kubeletClientConstructor(): grpc.ServiceClientConstructor {
  kubeletCtor ??= serviceClient(AGENT_PROTO, KUBELET_SERVICE);
  return kubeletCtor;
}

export interface KubeletLogsRequest {
  namespace: string;
  pod: string;
  /** The container; absent = the pod's only container (the agent refuses when it has several). */
  container?: string;
  /** Keep streaming new output until `cancel()`. */
  follow?: boolean;
  /** Only the last N lines (before following). */
  tailLines?: number;
  /** The previous (crashed) instance's log. */
  previous?: boolean;
}

export interface KubeletLogsHandle {
  /** Stop the stream; `done` then resolves. */
  cancel(): void;
  /** Resolves when the log ended (or after cancel()); rejects with a BrambleError when the agent failed it. */
  done: Promise<void>;
}

export interface KubeletContainerStats {
  name: string;
  memoryBytes: number;
  cpuMillicores: number;
}

export interface KubeletPodStats {
  namespace: string;
  name: string;
  containers: KubeletContainerStats[];
}

export interface KubeletStats {
  nodeName: string;
  /** Everything the node's pods use, plus the agent. */
  memoryBytes: number;
  cpuMillicores: number;
  agentMemoryBytes: number;
  pods: KubeletPodStats[];
}

export interface KubeletClientOptions {
  /** Deadline of a unary call (stats), and of connecting before a log stream starts. Default 5 000 ms. */
  timeoutMs?: number;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  channelOptions?: grpc.ChannelOptions;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Wire = Record<string, any>;

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

export function statsFromWire(w: Wire): KubeletStats {
  return {
    nodeName: w.node_name ?? '',
    memoryBytes: num(w.memory_bytes),
    cpuMillicores: num(w.cpu_millicores),
    agentMemoryBytes: num(w.agent_memory_bytes),
    pods: ((w.pods ?? []) as Wire[]).map((p) => ({
      namespace: p.namespace ?? '',
      name: p.name ?? '',
      containers: ((p.containers ?? []) as Wire[]).map((c) => ({ name: c.name ?? '', memoryBytes: num(c.memory_bytes), cpuMillicores: num(c.cpu_millicores) })),
    })),
  };
}

export class KubeletClient {
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly active = new Set<grpc.ClientReadableStream<Wire>>();

  constructor(
    readonly endpoint: string,
    opts: KubeletClientOptions = {},
  ) {
    checkEndpoint(endpoint, 'kubelet endpoint');
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) throw new TypeError(`timeoutMs: must be a positive integer (got ${JSON.stringify(opts.timeoutMs)})`);
    this.token = opts.token;
    const Ctor = kubeletClientConstructor();
    this.client = new Ctor(endpoint, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      'grpc.enable_retries': 0,
      'grpc.use_local_subchannel_pool': 1,
      ...opts.channelOptions,
    });
  }

  /** The node's usage now: per node, per pod, per container. */
  async stats(): Promise<KubeletStats> {
    const operation = `stats of kubelet ${this.endpoint}`;
    await this.connect(operation);
    const w = await new Promise<Wire>((resolve, reject) => {
      (this.client as unknown as { Stats(r: Wire, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Wire>): void }).Stats(
        {},
        this.metadata(),
        { deadline: this.deadline() },
        (err, res) => (err ? reject(this.error(operation, err)) : resolve(res ?? {})),
      );
    });
    return statsFromWire(w);
  }

  /**
   * Stream a container's log: `onChunk` gets the bytes as the agent sends them. With
   * `follow` the stream stays open until `cancel()`; otherwise it ends at the end of the log.
   */
  logs(request: KubeletLogsRequest, onChunk: (data: Buffer) => void): KubeletLogsHandle {
    if (request.tailLines !== undefined && (!Number.isSafeInteger(request.tailLines) || request.tailLines < 0)) {
      throw new TypeError(`tailLines: must be a non-negative integer (got ${JSON.stringify(request.tailLines)})`);
    }
    const container = request.container ? ` (container ${JSON.stringify(request.container)})` : '';
    const operation = `logs of pod ${request.namespace}/${request.pod}${container} from kubelet ${this.endpoint}`;
    const done = new Settle<void>();
    let cancelled = false;
    let stream: grpc.ClientReadableStream<Wire> | undefined;
    const start = async (): Promise<void> => {
      await this.connect(operation);
      if (cancelled) return done.resolve();
      const s = (this.client as unknown as { Logs(r: Wire, md: grpc.Metadata): grpc.ClientReadableStream<Wire> }).Logs(
        {
          namespace: request.namespace,
          pod: request.pod,
          container: request.container ?? '',
          follow: request.follow ?? false,
          tail_lines: request.tailLines ?? 0,
          has_tail: request.tailLines !== undefined,
          previous: request.previous ?? false,
        },
        this.metadata(),
      );
      stream = s;
      this.active.add(s);
      s.on('data', (chunk: Wire) => {
        if (!cancelled && chunk.data && chunk.data.length > 0) onChunk(Buffer.from(chunk.data as Buffer));
      });
      s.on('error', (err: Error) => {
        this.active.delete(s);
        if (cancelled) return done.resolve(); // our own cancel() ends the stream with CANCELLED
        done.reject(isServiceError(err) ? this.error(operation, err) : err);
      });
      s.on('end', () => {
        this.active.delete(s);
        done.resolve();
      });
    };
    start().catch((err: unknown) => done.reject(err instanceof Error ? err : new Error(String(err))));
    return {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        stream?.cancel();
        if (!stream) done.resolve();
      },
      done: done.promise,
    };
  }

  /** Cancel every stream and close the connection. */
  close(): void {
    for (const s of [...this.active]) s.cancel();
    this.active.clear();
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  private deadline(): Date {
    return new Date(Date.now() + this.timeoutMs);
  }

  /** Wait for the channel to be ready, so an agent that is down fails fast with a clear reason. */
  private connect(operation: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(this.deadline(), (err) => {
        if (!err) return resolve();
        reject(
          new BrambleError({
            operation,
            code: 'UNAVAILABLE',
            details: `cannot connect to the node's kubelet within ${this.timeoutMs} ms (${err.message})`,
            endpoint: this.endpoint,
          }),
        );
      });
    });
  }

  private error(operation: string, err: Error): Error {
    return isServiceError(err) ? fromServiceError(operation, this.endpoint, err) : err;
  }
}
