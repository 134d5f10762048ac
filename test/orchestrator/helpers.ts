// Shared helpers of the orchestrator's process tests: manifests, pod queries, waits, the CLI.
import { Readable } from 'node:stream';
import type { DaemonSet, Deployment, Pod } from '@bramble/api';
import { run, type CliEnvironment } from '@bramble/cli';
import { BrambleClient } from '@bramble/client';
import { waitFor, type OrchestratorCluster } from '@bramble/testkit';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `bramble ARGS` run in-process against the cluster's masters, as a user would type it;
 * `homeDir` holds the CLI config (a temp dir of the test).
 */
export async function runBramble(cluster: OrchestratorCluster, homeDir: string, ...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const environment: CliEnvironment = {
    stdout: { write: (s: string) => ((stdout += s), true) },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: Readable.from([]),
    env: {},
    homeDir,
    onInterrupt: () => () => {},
    createClient: (o) => new BrambleClient(o),
  };
  const code = await run(['--server', cluster.masters.endpoints().join(','), ...args], environment);
  return { code, stdout, stderr };
}

export const HELLO_SERVER = 'deploy/examples/hello/server.js';

/** A Deployment of the hello server (node from this test's own binary, so PATH does not matter). */
export function helloDeployment(name: string, replicas: number, extra: { cpu?: string; memory?: string } = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'web',
              command: [process.execPath, HELLO_SERVER],
              ports: [{ name: 'http', containerPort: 8080 }],
              resources: { requests: { cpu: extra.cpu ?? '100m', memory: extra.memory ?? '32Mi' } },
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  } as Deployment;
}

export function helloDaemonSet(name: string): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [{ name: 'agent', command: [process.execPath, HELLO_SERVER], ports: [{ name: 'http', containerPort: 9100 }] }],
        },
      },
    },
  } as DaemonSet;
}

export function isRunning(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata.deletionTimestamp;
}

export async function podsOf(cluster: OrchestratorCluster, app: string): Promise<Pod[]> {
  return (await cluster.resources().list('Pod', { namespace: 'default', labelSelector: `app=${app}` })).items;
}

export function countByNode(pods: Pod[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of pods) counts.set(p.spec.nodeName ?? '', (counts.get(p.spec.nodeName ?? '') ?? 0) + 1);
  return counts;
}

/** Wait until exactly `n` pods of `app` exist, all Running (and none being deleted); returns them. */
export async function waitForRunning(cluster: OrchestratorCluster, app: string, n: number, timeoutMs = 30_000, extra?: (pods: Pod[]) => boolean): Promise<Pod[]> {
  let last: Pod[] = [];
  try {
    return await waitFor(
      `exactly ${n} Running pods of ${app}`,
      async () => {
        last = await podsOf(cluster, app);
        const ok = last.length === n && last.every(isRunning) && (extra ? extra(last) : true);
        return ok ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    const summary = last.map((p) => `${p.metadata.name}@${p.spec.nodeName ?? '-'}:${p.status?.phase ?? '?'}${p.metadata.deletionTimestamp ? '(deleting)' : ''}`).join(' ');
    throw new Error(`${(err as Error).message}; last seen ${last.length}: ${summary}`);
  }
}

/** Pod processes on every agent, grouped by pod uid (from the BRAMBLE_POD_UID marker). */
export function processesByPod(cluster: OrchestratorCluster): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const name of cluster.agents.keys()) {
    for (const p of cluster.podProcesses(name)) {
      if (!p.podUid) continue;
      out.set(p.podUid, [...(out.get(p.podUid) ?? []), p.pid]);
    }
  }
  return out;
}

/** Every Running pod has exactly one live process and no process belongs to a pod that does not exist. */
export async function waitForOneProcessPerPod(cluster: OrchestratorCluster, pods: () => Promise<Pod[]>, timeoutMs = 20_000): Promise<void> {
  let detail = '';
  await waitFor(
    'one live process per pod and none stale',
    async () => {
      const live = await pods();
      const uids = new Set(live.map((p) => p.metadata.uid!));
      const procs = processesByPod(cluster);
      const dup = [...procs].filter(([uid, pids]) => uids.has(uid) && pids.length !== 1);
      const stale = [...procs.keys()].filter((uid) => !uids.has(uid));
      const missing = [...uids].filter((uid) => !procs.has(uid));
      detail = `duplicates ${JSON.stringify(dup)}, stale ${stale.join(',')}, missing ${missing.join(',')}`;
      return dup.length === 0 && stale.length === 0 && missing.length === 0;
    },
    timeoutMs,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${detail}`);
  });
}

export function pidOf(pod: Pod): number {
  const id = pod.status?.containerStatuses?.[0]?.containerID ?? '';
  const match = /^process:\/\/(\d+)$/.exec(id);
  if (!match) throw new Error(`pod ${pod.metadata.name} has no process containerID (got ${JSON.stringify(id)})`);
  return Number(match[1]);
}
