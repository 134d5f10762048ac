// scripts/cluster, the README's first command, driven as a user would: up with agents and
// the demo workload, kill and start an agent (its pods are adopted, not duplicated), add
// and remove a node, status, down (nothing left running).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrambleClient } from '@bramble/client';
import { REPO_ROOT, killPodProcesses, podProcesses, waitFor } from '@bramble/testkit';

const run = promisify(execFile);

/** Running (not a zombie: the supervisor's children are reparented, and the reaper may be slow or absent). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
// A loopback address of its own for the masters, so default ports cannot clash with other tests.
const HOST = '127.0.0.77';

describe('scripts/cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bramble-supervisor-'));
  const env = { ...process.env, BRAMBLE_CONFIG: join(dir, 'config') };
  let client: BrambleClient;

  const cluster = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(join(REPO_ROOT, 'scripts/cluster'), [...args, '--data', dir], { cwd: REPO_ROOT, env, timeout: 90_000 });
    return stdout;
  };
  const state = (): { processes: Array<{ name: string; pid: number; dataDir: string }> } => JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'));
  const helloPods = async () =>
    (await client.resources.list('Pod', { namespace: 'default', labelSelector: 'app=hello' })).items.filter((p) => !p.metadata.deletionTimestamp);

  beforeAll(async () => {
    const out = await cluster('up', '--workers', '2', '--host', HOST, '--no-build');
    expect(out).toContain('2 nodes Ready');
    expect(out).toContain('deployment/hello created');
    expect(out).toContain('service/hello created');
    client = new BrambleClient({ endpoints: [7001, 7002, 7003].map((p) => `${HOST}:${p}`) });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    let recorded: Array<{ pid: number; dataDir: string }> = [];
    try {
      recorded = state().processes;
    } catch {
      // never started, or already down
    }
    await cluster('down').catch(() => undefined);
    for (const p of recorded) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
      killPodProcesses(p.dataDir);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('up runs the demo: 3 hello pods Running on the 2 nodes', async () => {
    const pods = await waitFor('3 Running hello pods', async () => {
      const all = await helloPods();
      return all.length === 3 && all.every((p) => p.status?.phase === 'Running') ? all : undefined;
    }, 30_000, 100);
    expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['node1', 'node2']));
    const status = await cluster('status');
    expect(status).toMatch(/node1\s+Ready\s+127\.0\.0\.11/);
    // The demo's Service: every node's proxy serves it on port 8000 and on NodePort 30100.
    const names = new Set(pods.map((p) => p.metadata.name));
    for (const url of ['http://127.0.0.11:30100/', 'http://127.0.0.12:30100/', 'http://127.0.0.12:8000/']) {
      const body = await waitFor(`the hello Service at ${url}`, async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        return res.ok ? ((await res.json()) as { pod?: string }) : undefined;
      }, 20_000, 200);
      expect(names.has(body.pod ?? '')).toBe(true);
    }
  }, 60_000);

  it('kill and start an agent: its pods are adopted, not duplicated', async () => {
    const before = await helloPods();
    const node1 = state().processes.find((p) => p.name === 'node1')!;
    const pidsBefore = podProcesses(node1.dataDir).map((p) => p.pid).sort();
    expect(pidsBefore.length).toBeGreaterThan(0);
    await cluster('kill', 'node1');
    expect(await cluster('start', 'node1')).toContain('node1: started');
    await waitFor('node1 Ready again', async () => {
      const node = await client.resources.get('Node', undefined, 'node1');
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, 20_000, 100);
    const after = await helloPods();
    expect(after.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
    expect(podProcesses(node1.dataDir).map((p) => p.pid).sort()).toEqual(pidsBefore);
  }, 40_000);

  it('add-node and remove-node: pods move off the removed node', async () => {
    expect(await cluster('add-node')).toContain('node/node3 joined');
    expect(await cluster('remove-node', 'node1')).toContain('node/node1 deleted');
    const pods = await waitFor('3 Running hello pods off node1', async () => {
      const all = await helloPods();
      return all.length === 3 && all.every((p) => p.status?.phase === 'Running' && p.spec.nodeName !== 'node1') ? all : undefined;
    }, 30_000, 100);
    expect(pods.some((p) => p.spec.nodeName === 'node3')).toBe(true);
    expect(state().processes.map((p) => p.name)).not.toContain('node1');
  }, 60_000);

  it('down stops every process it started and their pods', async () => {
    const recorded = state().processes;
    await cluster('down');
    for (const p of recorded) {
      expect(isAlive(p.pid), `${p.name} still running`).toBe(false);
      expect(podProcesses(p.dataDir)).toEqual([]);
    }
  }, 60_000);
});
