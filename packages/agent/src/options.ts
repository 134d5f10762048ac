// What an agent is told at start, checked up front so that bad input fails with the flag's name.
import { DEFAULT_NODE_CAPACITY, isDns1123Subdomain, isIPv4, isLabelValue, isQualifiedName, quantityErrors } from '@bramble/api';

export interface AgentOptions {
  /** The Node's name (a DNS-1123 subdomain). */
  name: string;
  /** The node's IPv4 address: pods bind it, the Kubelet service listens on it. */
  address: string;
  /** Masters' gRPC addresses, host:port. */
  masters: string[];
  /** Join token `<id>.<secret>`. */
  joinToken: string;
  /** Where the node credential (and the runtime's state) live. */
  dataDir: string;
  /** Extra node labels. */
  labels?: Record<string, string>;
  /** Capacity; defaults to a Raspberry Pi 4: cpu "4", memory "4Gi", pods "110". */
  cpu?: string;
  memory?: string;
  maxPods?: number;
  /** Kubelet gRPC port on `address`; 0 = any free port. Default 10250. */
  port?: number;
  /** host:port for /healthz and /metrics; none when absent or ''. */
  http?: string;
  /** Default 1 000 ms. */
  heartbeatIntervalMs?: number;
  /** First retry of a pod whose ConfigMap/Secret reference failed; doubles up to 10 s. Default 1 000 ms. */
  configRetryMs?: number;
  /** Status writes in flight at once. Default 16. */
  statusConcurrency?: number;
  /** Run the service proxy (a listener per Service port on `address`). Default true. */
  proxy?: boolean;
  /** How long the proxy lets a connection to a removed endpoint finish. Default 30 000 ms. */
  proxyDrainTimeoutMs?: number;
  logLevel?: string;
}

export const DEFAULT_KUBELET_PORT = 10250;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
export const DEFAULT_CONFIG_RETRY_MS = 1_000;
export const DEFAULT_STATUS_CONCURRENCY = 16;
export const DEFAULT_PROXY_DRAIN_TIMEOUT_MS = 30_000;

export type ResolvedAgentOptions = Required<Omit<AgentOptions, 'http' | 'logLevel'>> & { http: string; logLevel: string };

function hostPortError(value: string): string | undefined {
  const i = value.lastIndexOf(':');
  if (i <= 0) return `must be host:port (got ${JSON.stringify(value)})`;
  const port = Number(value.slice(i + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1-65535 (got ${JSON.stringify(value)})`;
  return undefined;
}

/** Defaults filled in; throws an Error naming the first bad option. */
export function resolveAgentOptions(o: AgentOptions): ResolvedAgentOptions {
  const fail = (what: string, why: string): never => {
    throw new Error(`${what}: ${why}`);
  };
  if (!o.name || isDns1123Subdomain(o.name).length) fail('name', `must be a DNS-1123 subdomain (lower-case letters, digits, '-', '.') (got ${JSON.stringify(o.name)})`);
  if (typeof o.address !== 'string' || isIPv4(o.address).length) fail('address', `must be an IPv4 address (got ${JSON.stringify(o.address)})`);
  if (!o.masters?.length) fail('masters', 'at least one master host:port is required');
  for (const m of o.masters) {
    const why = hostPortError(m);
    if (why) fail('masters', why);
  }
  if (!o.joinToken) fail('join-token', 'required');
  if (!o.dataDir) fail('data-dir', 'required');
  const labels = o.labels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    const keyErrors = isQualifiedName(k);
    if (keyErrors.length) fail('labels', `bad key ${JSON.stringify(k)}: ${keyErrors[0]}`);
    const valueErrors = isLabelValue(v);
    if (valueErrors.length) fail('labels', `bad value ${JSON.stringify(v)} for ${k}: ${valueErrors[0]}`);
  }
  const cpu = o.cpu ?? DEFAULT_NODE_CAPACITY.cpu;
  const memory = o.memory ?? DEFAULT_NODE_CAPACITY.memory;
  for (const [flag, q] of [['cpu', cpu], ['memory', memory]] as const) {
    const errs = quantityErrors(q);
    if (errs.length) fail(flag, `${errs[0]} (got ${JSON.stringify(q)})`);
  }
  const maxPods = o.maxPods ?? Number(DEFAULT_NODE_CAPACITY.pods);
  if (!Number.isInteger(maxPods) || maxPods < 1) fail('max-pods', `must be a positive integer (got ${maxPods})`);
  const port = o.port ?? DEFAULT_KUBELET_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('port', `must be 0-65535 (got ${port})`);
  const http = o.http ?? '';
  if (http) {
    const why = hostPortError(http);
    if (why) fail('http', why);
  }
  const positive = (flag: string, v: number): number => (Number.isFinite(v) && v > 0 ? v : fail(flag, `must be > 0 (got ${v})`));
  return {
    name: o.name,
    address: o.address,
    masters: [...o.masters],
    joinToken: o.joinToken,
    dataDir: o.dataDir,
    labels,
    cpu,
    memory,
    maxPods,
    port,
    http,
    heartbeatIntervalMs: positive('heartbeat-interval', o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS),
    configRetryMs: positive('config-retry', o.configRetryMs ?? DEFAULT_CONFIG_RETRY_MS),
    statusConcurrency: positive('status-concurrency', o.statusConcurrency ?? DEFAULT_STATUS_CONCURRENCY),
    proxy: o.proxy ?? true,
    proxyDrainTimeoutMs: positive('proxy-drain-timeout', o.proxyDrainTimeoutMs ?? DEFAULT_PROXY_DRAIN_TIMEOUT_MS),
    logLevel: o.logLevel ?? 'info',
  };
}

/** `k=v,k2=v2` -> record; throws naming the bad pair. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`labels: expected key=value (got ${JSON.stringify(pair)})`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}
