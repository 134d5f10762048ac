// The Kubelet gRPC service on the node's address (proto/agent.proto): pod logs, streamed and
// followed until the client cancels, and live usage of the node's pods and of the agent itself.
import * as grpc from '@grpc/grpc-js';
import type { Pod } from '@bramble/api';
import { serviceDefinition } from '@bramble/transport';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';
import type { PodRuntime } from './runtime/types.js';

export interface KubeletServerOptions {
  nodeName: string;
  address: string;
  /** 0 = any free port. */
  port: number;
  runtime: PodRuntime;
  findPod: (namespace: string, name: string) => Pod | undefined;
  logger: Logger;
}

interface LogsRequest {
  namespace: string;
  pod: string;
  container: string;
  follow: boolean;
  tail_lines: number;
  has_tail: boolean;
  previous: boolean;
}

/** End a server stream with an error status (grpc-js turns an 'error' event into the trailer). */
function fail(call: grpc.ServerWritableStream<unknown, unknown>, code: grpc.status, details: string): void {
  call.emit('error', Object.assign(new Error(details), { code, details }));
}

/** CPU of this process in millicores, averaged since the previous call. */
class AgentCpu {
  // The first sample covers the whole life of the process.
  private last = { usage: { user: 0, system: 0 }, atMs: Date.now() - process.uptime() * 1000 };
  sample(): number {
    const usage = process.cpuUsage();
    const atMs = Date.now();
    const cpuMicros = usage.user - this.last.usage.user + usage.system - this.last.usage.system;
    const wallMs = Math.max(1, atMs - this.last.atMs);
    this.last = { usage, atMs };
    return Math.round(cpuMicros / wallMs);
  }
}

export class KubeletServer {
  private readonly server = new grpc.Server();
  private boundPort = 0;
  private readonly agentCpu = new AgentCpu();

  constructor(private readonly o: KubeletServerOptions) {
    this.server.addService(serviceDefinition('agent.proto', 'bramble.agent.Kubelet'), {
      Logs: (call: grpc.ServerWritableStream<LogsRequest, { data: Buffer }>) => void this.logs(call),
      Stats: (_call: grpc.ServerUnaryCall<object, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, this.stats()),
    });
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const where = `${this.o.address}:${this.o.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(where, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(new Error(`kubelet service on ${where}: ${err.message}`)) : resolve(port),
      ),
    );
    return this.boundPort;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      // Followed log streams never end by themselves: give them a moment, then cut them.
      const timer = setTimeout(() => this.server.forceShutdown(), 1_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async logs(call: grpc.ServerWritableStream<LogsRequest, { data: Buffer }>): Promise<void> {
    const r = call.request;
    const ns = r.namespace || 'default';
    const pod = this.o.findPod(ns, r.pod);
    const where = `pod "${ns}/${r.pod}"`;
    if (!r.pod || !pod?.metadata.uid) {
      fail(call, grpc.status.NOT_FOUND, `${where} not found on node ${this.o.nodeName}`);
      return;
    }
    const names = pod.spec.containers.map((c) => c.name);
    let container = r.container;
    if (!container) {
      if (names.length !== 1) {
        fail(call, grpc.status.INVALID_ARGUMENT, `${where} has several containers, choose one of: ${names.join(', ')}`);
        return;
      }
      container = names[0];
    } else if (!names.includes(container)) {
      fail(call, grpc.status.NOT_FOUND, `container "${container}" not found in ${where} (containers: ${names.join(', ')})`);
      return;
    }
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    call.on('close', () => abort.abort());
    try {
      await this.o.runtime.logs(
        pod.metadata.uid,
        { container, follow: r.follow, previous: r.previous, ...(r.has_tail ? { tailLines: r.tail_lines } : {}) },
        (chunk) => {
          if (!abort.signal.aborted) call.write({ data: chunk });
        },
        abort.signal,
      );
      if (!abort.signal.aborted) call.end();
    } catch (err) {
      if (abort.signal.aborted) return;
      const code = /not found|no such|ENOENT|no previous/i.test(errorMessage(err)) ? grpc.status.NOT_FOUND : grpc.status.INTERNAL;
      this.o.logger.debug({ pod: `${ns}/${r.pod}`, container, err: errorMessage(err) }, 'logs failed');
      fail(call, code, `${where} container "${container}": ${errorMessage(err)}`);
    }
  }

  private stats(): object {
    const pods = this.o.runtime.usage();
    let memoryBytes = 0;
    let cpuMillicores = 0;
    for (const p of pods) {
      for (const c of p.containers) {
        memoryBytes += c.memoryBytes;
        cpuMillicores += c.cpuMillicores;
      }
    }
    const agentMemoryBytes = process.memoryUsage.rss();
    return {
      node_name: this.o.nodeName,
      memory_bytes: memoryBytes + agentMemoryBytes,
      cpu_millicores: cpuMillicores + this.agentCpu.sample(),
      agent_memory_bytes: agentMemoryBytes,
      pods: pods.map((p) => ({
        namespace: p.namespace,
        name: p.name,
        containers: p.containers.map((c) => ({ name: c.name, memory_bytes: c.memoryBytes, cpu_millicores: c.cpuMillicores })),
      })),
    };
  }
}
