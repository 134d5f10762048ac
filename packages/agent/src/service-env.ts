// The environment Kubernetes gives a container for every Service of its namespace that
// exists when the container starts. Bramble's proxy serves each Service port on every
// node's address, so the host is the pod's own node address:
//   REDIS_MASTER_SERVICE_HOST=127.0.0.11     REDIS_MASTER_SERVICE_PORT=6379
//   REDIS_MASTER_SERVICE_PORT_<PORTNAME>=... (named ports)
// plus the Docker-link style variables Kubernetes adds beside them:
//   REDIS_MASTER_PORT=tcp://127.0.0.11:6379
//   REDIS_MASTER_PORT_6379_TCP=tcp://127.0.0.11:6379, ..._PROTO=tcp, ..._PORT=6379, ..._ADDR=127.0.0.11
// They come before the container's own env, so `env` wins and `$(VAR)` can use them.
import type { Service } from '@bramble/api';

/** `redis-master` -> `REDIS_MASTER` (Kubernetes' makeEnvVariableName). */
export function serviceEnvName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** The variables for `services` (sorted by name, as the kubelet does), with `address` as their host. */
export function serviceEnv(services: readonly Service[], address: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const sorted = [...services].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0));
  for (const svc of sorted) {
    const ports = svc.spec?.ports ?? [];
    if (!svc.metadata.name || ports.length === 0) continue;
    const prefix = serviceEnvName(svc.metadata.name);
    out.push({ name: `${prefix}_SERVICE_HOST`, value: address });
    out.push({ name: `${prefix}_SERVICE_PORT`, value: String(ports[0].port) });
    for (const p of ports) if (p.name) out.push({ name: `${prefix}_SERVICE_PORT_${serviceEnvName(p.name)}`, value: String(p.port) });
    const first = ports[0];
    out.push({ name: `${prefix}_PORT`, value: `${(first.protocol ?? 'TCP').toLowerCase()}://${address}:${first.port}` });
    for (const p of ports) {
      const protocol = (p.protocol ?? 'TCP').toLowerCase();
      const base = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
      out.push({ name: base, value: `${protocol}://${address}:${p.port}` });
      out.push({ name: `${base}_PROTO`, value: protocol });
      out.push({ name: `${base}_PORT`, value: String(p.port) });
      out.push({ name: `${base}_ADDR`, value: address });
    }
  }
  return out;
}

/** What pod start-up reads the Services from (the proxy's ServiceCache is one). */
export interface ServiceSource {
  /** Listed at least once: an empty answer means "no Services", not "not known yet". */
  readonly synced: boolean;
  servicesInNamespace(namespace: string): Service[];
}
