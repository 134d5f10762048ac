// The supervisor's worker agents: starting them, draining and removing nodes, and
// applying the demo workload. Agents run on their own loopback addresses
// (127.0.0.11, .12, ...), like boards on a LAN.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifests, type Node, type Pod, type Resource } from '@bramble/api';
import type { BrambleClient, ResourcesApi } from '@bramble/client';
import { killPodProcesses } from '@bramble/testkit';
import { waitUntil } from './processes.js';
import type { ClusterState, ProcessRecord } from './state.js';

export const KUBELET_PORT = 10250;

export function api(client: BrambleClient): ResourcesApi {
  return client.resources;
}

export interface AgentSpec {
  name: string;
  address: string;
  cpu?: string;
  memory?: string;
  labels?: string;
}

export function agentArgs(agentBin: string, state: ClusterState, spec: AgentSpec, dataDir: string): string[] {
  const masters = state.processes.filter((p) => p.kind === 'master').map((p) => p.address);
  return [
    agentBin,
    '--name',
    spec.name,
    '--address',
    spec.address,
    '--masters',
    masters.join(','),
    '--join-token',
    state.joinToken ?? '',
    '--data-dir',
    dataDir,
    '--port',
    String(KUBELET_PORT),
    ...(spec.cpu ? ['--cpu', spec.cpu] : []),
    ...(spec.memory ? ['--memory', spec.memory] : []),
    ...(spec.labels ? ['--labels', spec.labels] : []),
  ];
}

/** The next unused node<N> name and its address 127.0.0.<10+N>. */
export function nextAgentSpec(state: ClusterState): AgentSpec {
  const used = new Set(state.processes.filter((p) => p.kind === 'agent').map((p) => p.name));
  for (let n = 1; n < 240; n++) {
    if (!used.has(`node${n}`)) return { name: `node${n}`, address: `127.0.0.${10 + n}` };
  }
  throw new Error('no free node name (node1..node239 all used)');
}

function isReady(node: Node): boolean {
  return Boolean(node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

export async function waitForNodesReady(client: BrambleClient, names: string[], isAlive: () => void, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `nodes ${names.join(', ')} to be Ready`,
    async () => {
      isAlive();
      try {
        const { items } = await api(client).list('Node');
        const ready = new Set(items.filter(isReady).map((n) => n.metadata.name));
        return names.every((n) => ready.has(n));
      } catch {
        return false;
      }
    },
    timeoutMs,
    200,
  );
}

/** Every manifest (*.yaml, *.yml, *.json) under `dir`, in file-name order. */
export function readManifestDir(dir: string): Resource[] {
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .flatMap((f) => parseManifests(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}

export async function applyAll(client: BrambleClient, objects: Resource[]): Promise<string[]> {
  const lines: string[] = [];
  for (const obj of objects) {
    const { action } = await api(client).apply(obj);
    lines.push(`${obj.kind.toLowerCase()}/${obj.metadata.name} ${action}`);
  }
  return lines;
}

function isDaemonPod(pod: Pod): boolean {
  return Boolean(pod.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller));
}

/**
 * Take a node out like `kubectl drain` + `kubectl delete node`: cordon, delete its pods
 * (their controllers recreate them elsewhere) and wait for them to stop, stop the agent,
 * kill whatever it left (daemon pods), then delete the Node.
 */
export async function removeNode(client: BrambleClient, rec: ProcessRecord, stop: () => Promise<unknown>, log: (line: string) => void): Promise<void> {
  const name = rec.name;
  try {
    await api(client).patch('Node', undefined, name, { spec: { unschedulable: true } });
    log(`node/${name} cordoned`);
    const onNode = (await api(client).list('Pod', { fieldSelector: `spec.nodeName=${name}` })).items;
    for (const pod of onNode.filter((p) => !isDaemonPod(p))) {
      await api(client).delete('Pod', pod.metadata.namespace, pod.metadata.name!).catch(() => undefined);
      log(`evicting pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    }
    await waitUntil(
      `the pods on ${name} to stop`,
      async () => (await api(client).list('Pod', { fieldSelector: `spec.nodeName=${name}` })).items.filter((p) => !isDaemonPod(p)).length === 0,
      60_000,
      200,
    );
  } catch (err) {
    log(`drain of ${name} incomplete: ${(err as Error).message}`);
  }
  await stop();
  const leftovers = killPodProcesses(rec.dataDir);
  if (leftovers > 0) log(`killed ${leftovers} pod process(es) the agent left`);
  await api(client).delete('Node', undefined, name).catch(() => undefined);
  log(`node/${name} deleted`);
}
