/**
 * The Endpoints controller: for every Service with a selector, an Endpoints object
 * of the same name listing the pods behind it, in Kubernetes' shape. The decision
 * (`desiredEndpoints`) is a pure function of the Service and the pods of its
 * namespace; `EndpointsController` writes it, only when it changed.
 *
 * Rules, as in Kubernetes (without publishNotReadyAddresses):
 * - A pod is listed when its labels match the selector, it is bound to a node whose
 *   address it reports (`status.hostIP`), it is not terminated and not being deleted.
 *   A pod being deleted leaves at once, so proxies stop sending it new connections
 *   (and drain the old ones) before its process is stopped.
 * - Ready pods go in `addresses`, the others in `notReadyAddresses`.
 * - Bramble pods bind their node's address on a host port the agent chose: ip = the
 *   node's address, port = the host port the agent reports for the container port
 *   that `targetPort` names (by number or by name). A numeric targetPort the pod does
 *   not declare is used as it is (the pod listens on it itself); a name the pod does
 *   not declare leaves the pod out of that port.
 * - Addresses serving the same ports share a subset (Kubernetes' repacking); with
 *   per-pod host ports that is usually one subset per pod.
 * - No ownerReference (like Kubernetes): Endpoints this controller wrote carry the
 *   label `endpoints.bramble.dev/managed-by` and are deleted once their Service is
 *   gone or has no selector any more. Endpoints of a selectorless Service are the
 *   user's and left alone.
 */
import { canonicalJson, deepClone, type EndpointAddress, type EndpointPort, type Endpoints, type EndpointSubset, type Pod, type Service, type ServicePort } from '@bramble/api';
import type { ControllerClient } from './client.js';
import { DEFAULT_MAX_IN_FLIGHT, forEachBounded } from './util/concurrency.js';
import { isBeingDeleted, isPodReady, isPodTerminated, podKey } from './util/pods.js';
import { ControllerReport } from './util/report.js';

export const ENDPOINTS_COMPONENT = 'endpoint-controller';
/** Marks the Endpoints this controller owns (it deletes them with their Service). */
export const ENDPOINTS_MANAGED_BY_LABEL = 'endpoints.bramble.dev/managed-by';

/** A Service with a non-empty selector: its Endpoints are this controller's. */
export function hasSelector(svc: Service): boolean {
  return Object.keys(svc.spec?.selector ?? {}).length > 0;
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The host port serving `sp` on `pod`, or undefined when the pod cannot serve it. */
export function podPortFor(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  const protocol = sp.protocol ?? 'TCP';
  const declared = (pod.spec.containers ?? []).flatMap((c) => c.ports ?? []);
  const reported = (pod.status?.containerStatuses ?? []).flatMap((cs) => cs.ports ?? []);
  const sameProtocol = (p: { protocol?: string }): boolean => (p.protocol ?? 'TCP') === protocol;
  if (typeof target === 'number') {
    const hit = reported.find((p) => p.containerPort === target && sameProtocol(p));
    if (hit) return hit.hostPort;
    // Declared but not reported yet: not servable until the agent says where it is.
    if (declared.some((p) => p.containerPort === target && sameProtocol(p))) return undefined;
    return target;
  }
  const named = declared.find((p) => p.name === target && sameProtocol(p));
  if (!named) return undefined;
  return reported.find((p) => (p.name === target || p.containerPort === named.containerPort) && sameProtocol(p))?.hostPort;
}

function addressOf(pod: Pod, ip: string): EndpointAddress {
  const address: EndpointAddress = { ip };
  if (pod.spec.nodeName) address.nodeName = pod.spec.nodeName;
  address.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
  return address;
}

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  const ka = `${a.ip}\u0000${a.targetRef?.name ?? ''}`;
  const kb = `${b.ip}\u0000${b.targetRef?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The subsets for `svc` over the pods of its namespace, sorted so equal inputs give equal output. */
export function endpointSubsets(svc: Service, podsInNamespace: readonly Pod[]): EndpointSubset[] {
  const selector = svc.spec.selector ?? {};
  const groups = new Map<string, { ports: EndpointPort[]; addresses: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of podsInNamespace) {
    if (!selects(selector, pod.metadata.labels)) continue;
    if (isBeingDeleted(pod) || isPodTerminated(pod) || !pod.spec.nodeName) continue;
    const ip = pod.status?.hostIP ?? pod.status?.podIP;
    if (!ip) continue;
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = podPortFor(pod, sp);
      if (port === undefined) continue;
      ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    if (ports.length === 0) continue;
    ports.sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : a.port - b.port));
    const key = canonicalJson(ports);
    let group = groups.get(key);
    if (!group) {
      group = { ports, addresses: [], notReady: [] };
      groups.set(key, group);
    }
    (isPodReady(pod) ? group.addresses : group.notReady).push(addressOf(pod, ip));
  }
  return [...groups.keys()].sort().map((key) => {
    const g = groups.get(key)!;
    const subset: EndpointSubset = {};
    if (g.addresses.length > 0) subset.addresses = g.addresses.sort(compareAddresses);
    if (g.notReady.length > 0) subset.notReadyAddresses = g.notReady.sort(compareAddresses);
    subset.ports = g.ports;
    return subset;
  });
}

/** The Endpoints `svc` should have (name, namespace, labels, subsets). */
export function desiredEndpoints(svc: Service, podsInNamespace: readonly Pod[]): Endpoints {
  const ep: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata.name,
      namespace: svc.metadata.namespace ?? 'default',
      labels: { ...(svc.metadata.labels ?? {}), [ENDPOINTS_MANAGED_BY_LABEL]: ENDPOINTS_COMPONENT },
    },
  };
  const subsets = endpointSubsets(svc, podsInNamespace);
  if (subsets.length > 0) ep.subsets = subsets;
  return ep;
}

/** Whether `live` already says what `desired` does (subsets and labels). */
export function endpointsUpToDate(live: Endpoints, desired: Endpoints): boolean {
  return canonicalJson(live.subsets ?? []) === canonicalJson(desired.subsets ?? []) && canonicalJson(live.metadata.labels ?? {}) === canonicalJson(desired.metadata.labels ?? {});
}

export interface EndpointsControllerOptions {
  /** Writes in flight at once. Default 64. */
  maxInFlight?: number;
}

export class EndpointsController {
  private readonly maxInFlight: number;

  constructor(
    private readonly client: ControllerClient,
    options: EndpointsControllerOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  /** One pass over every Service; `nowMs` is unused (the decision needs no clock) but kept for the manager's signature. */
  async runOnce(_nowMs: number): Promise<ControllerReport> {
    const report = new ControllerReport('endpoints');
    const [services, endpoints] = await Promise.all([this.client.list('Service'), this.client.list('Endpoints')]);
    const selected = services.filter(hasSelector);
    const stale = endpoints.filter((ep) => ep.metadata.labels?.[ENDPOINTS_MANAGED_BY_LABEL] !== undefined && !selected.some((s) => sameName(s, ep)));
    if (selected.length === 0 && stale.length === 0) return report;
    const pods = selected.length > 0 ? await this.client.list('Pod') : [];
    const podsByNamespace = new Map<string, Pod[]>();
    for (const pod of pods) {
      const ns = pod.metadata.namespace ?? 'default';
      const list = podsByNamespace.get(ns);
      if (list) list.push(pod);
      else podsByNamespace.set(ns, [pod]);
    }
    const live = new Map(endpoints.map((ep) => [podKey(ep), ep]));
    const tasks: Array<() => Promise<void>> = [];
    for (const svc of selected) {
      const desired = desiredEndpoints(svc, podsByNamespace.get(svc.metadata.namespace ?? 'default') ?? []);
      const current = live.get(podKey(svc));
      if (current && endpointsUpToDate(current, desired)) continue;
      tasks.push(() => report.guard(podKey(svc), () => this.write(current, desired, report)));
    }
    for (const ep of stale) {
      tasks.push(() =>
        report.guard(podKey(ep), async () => {
          await this.client.delete('Endpoints', ep.metadata.namespace, ep.metadata.name ?? '', { preconditions: { uid: ep.metadata.uid } });
          report.action(`delete endpoints ${podKey(ep)} (no service with a selector)`);
        }),
      );
    }
    // report.guard keeps every failure but NotLeaderError, which stops the pass.
    await forEachBounded(tasks, this.maxInFlight, (task) => task());
    return report;
  }

  private async write(current: Endpoints | undefined, desired: Endpoints, report: ControllerReport): Promise<void> {
    const count = (desired.subsets ?? []).reduce((n, s) => n + (s.addresses?.length ?? 0), 0);
    if (current === undefined) {
      await this.client.create(desired);
      report.action(`create endpoints ${podKey(desired)} (${count} ready)`);
      return;
    }
    const next = deepClone(current);
    next.metadata.labels = desired.metadata.labels;
    if (desired.subsets && desired.subsets.length > 0) next.subsets = desired.subsets;
    else delete next.subsets;
    await this.client.update(next); // resourceVersion of `current`: a Conflict if someone wrote since
    report.action(`update endpoints ${podKey(desired)} (${count} ready)`);
  }
}

function sameName(svc: Service, ep: Endpoints): boolean {
  return (svc.metadata.namespace ?? 'default') === (ep.metadata.namespace ?? 'default') && svc.metadata.name === ep.metadata.name;
}
