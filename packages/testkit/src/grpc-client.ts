import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Reply = Record<string, any>;

/** A thin untyped client for one master: `call('Put', {...})` on the KV, Cluster or Resources service. */
export class RawClient {
  readonly kv: grpc.Client;
  readonly cluster: grpc.Client;
  readonly resources: grpc.Client;

  constructor(
    readonly address: string,
    readonly timeoutMs = 5000,
  ) {
    const KV = serviceClient('kv.proto', 'bramble.kv.KV');
    const Cluster = serviceClient('cluster.proto', 'bramble.cluster.Cluster');
    this.kv = new KV(address, grpc.credentials.createInsecure());
    this.cluster = new Cluster(address, grpc.credentials.createInsecure());
    const Resources = serviceClient('api.proto', 'bramble.api.Resources');
    this.resources = new Resources(address, grpc.credentials.createInsecure());
  }

  resourcesCall(method: string, req: object, timeoutMs = this.timeoutMs): Promise<Reply> {
    return this.invoke(this.resources, method, req, timeoutMs);
  }

  /** A Resources Watch stream on this master only (no failover): `data`, `error` and `status` events. */
  resourceWatch(req: { kind: string; resource_version?: string; send_initial_events?: boolean; namespace?: string }): grpc.ClientReadableStream<Reply> {
    return (this.resources as any).Watch({ namespace: '', label_selector: '', field_selector: '', resource_version: '', send_initial_events: false, ...req });
  }

  private invoke(client: grpc.Client, method: string, req: object, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) =>
      (client as any)[method](req, { deadline: new Date(Date.now() + timeoutMs) }, (err: grpc.ServiceError | null, res: Reply) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  kvCall(method: string, req: object, timeoutMs = this.timeoutMs): Promise<Reply> {
    return this.invoke(this.kv, method, req, timeoutMs);
  }

  clusterCall(method: string, req: object, timeoutMs = this.timeoutMs): Promise<Reply> {
    return this.invoke(this.cluster, method, req, timeoutMs);
  }

  put(key: string, value: string, timeoutMs?: number): Promise<Reply> {
    return this.kvCall('Put', { key: Buffer.from(key), value: Buffer.from(value) }, timeoutMs);
  }

  async get(key: string, opts: { prefix?: boolean; serializable?: boolean } = {}, timeoutMs?: number): Promise<Reply> {
    const req: Reply = { key: Buffer.from(key), serializable: Boolean(opts.serializable) };
    if (opts.prefix) req.range_end = prefixEnd(Buffer.from(key));
    return this.kvCall('Range', req, timeoutMs);
  }

  status(timeoutMs = 1000): Promise<Reply> {
    return this.clusterCall('Status', {}, timeoutMs);
  }

  close(): void {
    this.kv.close();
    this.cluster.close();
    this.resources.close();
  }
}

export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
