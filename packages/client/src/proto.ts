// The KV and Cluster service clients, loaded from proto/ with transport's shared loader.
import type * as grpc from '@grpc/grpc-js';
import { serviceClient } from '@bramble/transport';

export const KV_PROTO = 'kv.proto';
export const KV_SERVICE = 'bramble.kv.KV';
export const CLUSTER_PROTO = 'cluster.proto';
export const CLUSTER_SERVICE = 'bramble.cluster.Cluster';

let kvCtor: grpc.ServiceClientConstructor | undefined;
let clusterCtor: grpc.ServiceClientConstructor | undefined;

export function kvClientConstructor(): grpc.ServiceClientConstructor {
  kvCtor ??= serviceClient(KV_PROTO, KV_SERVICE);
  return kvCtor;
}

export function clusterClientConstructor(): grpc.ServiceClientConstructor {
  clusterCtor ??= serviceClient(CLUSTER_PROTO, CLUSTER_SERVICE);
  return clusterCtor;
}
