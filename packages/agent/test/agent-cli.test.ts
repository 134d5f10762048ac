// `bramble agent` as a process (the built bin): exit codes, SIGTERM leaving pods running,
// and a restarted agent adopting them. Masters run in this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '@bramble/api';
import { BrambleClient } from '@bramble/client';
import { startMaster, type Master } from '@bramble/master';
import { BRAMBLE_BIN, freePort, killPodProcesses, podProcesses, waitFor } from '@bramble/testkit';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

const HELLO = fileURLToPath(new URL('./fixtures/hello-server.mjs', import.meta.url));
const TOKEN = 'abcdef.0123456789abcdef';
const ADDRESS = '127.0.0.1';

const stops: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
});

interface Run {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runAgent(args: string[]): Run {
  const proc = spawn(BRAMBLE_BIN, ['agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  stops.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  return { proc, output: () => out, exited };
}

async function setup(): Promise<{ dir: string; endpoint: string; client: BrambleClient }> {
  const dir = await mkdtemp(join(tmpdir(), 'bramble-agent-cli-'));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  const endpoint = `127.0.0.1:${await freePort()}`;
  const master: Master = await startMaster({ name: 'm1', listen: endpoint, peers: { m1: endpoint }, dataDir: join(dir, 'm1'), tickMs: 20, joinToken: TOKEN }, pino({ level: 'silent' }));
  stops.push(() => master.stop());
  await waitFor('the leader running the controllers', () => master.host.isLeader && master.nodes.controllers.active, 15_000);
  const client = new BrambleClient({ endpoints: [endpoint], requestTimeoutMs: 5_000 });
  stops.push(() => client.close());
  await waitFor('the join token stored', async () => (await client.tokens.list()).some((t) => t.id === 'abcdef'));
  return { dir, endpoint, client };
}

describe('bramble agent (process)', () => {
  it('exits 1 with the server message on a rejected join, 2 on a bad flag', async () => {
    const { dir, endpoint } = await setup();
    const base = ['--name', 'node1', '--masters', endpoint, '--data-dir', join(dir, 'agent'), '--port', '0'];
    const rejected = runAgent([...base, '--address', ADDRESS, '--join-token', 'abcdef.ffffffffffffffff']);
    expect(await rejected.exited).toBe(1);
    expect(rejected.output()).toContain('error: join rejected: join node "node1": UNAUTHENTICATED: join token "abcdef": wrong secret');
    const bad = runAgent([...base, '--address', '127.0.0', '--join-token', TOKEN]);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('error: --address: must be an IPv4 address (got "127.0.0")');
  });

  it('leaves its pods running on SIGTERM (exit 0); a restarted agent adopts them without duplicates', async () => {
    const { dir, endpoint, client } = await setup();
    const dataDir = join(dir, 'agent');
    stops.push(() => killPodProcesses(dataDir));
    const args = ['--name', 'node1', '--address', ADDRESS, '--masters', endpoint, '--join-token', TOKEN, '--data-dir', dataDir, '--port', '0', '--heartbeat-interval', '200ms'];
    const first = runAgent(args);
    await client.resources.create<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello', namespace: 'default' },
      spec: { nodeName: 'node1', containers: [{ name: 'web', command: [process.execPath, HELLO], ports: [{ containerPort: 8080 }], env: [{ name: 'GREETING', value: 'hi' }] }] },
    });
    const runningPod = await waitFor(
      'the pod Running',
      async () => {
        const p = await client.resources.get('Pod', 'default', 'hello');
        return p.status?.phase === 'Running' ? p : undefined;
      },
      20_000,
    );
    const containerID = runningPod.status?.containerStatuses?.[0].containerID;
    expect(podProcesses(dataDir)).toHaveLength(1);

    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('pods left running');
    expect(podProcesses(dataDir)).toHaveLength(1);

    const second = runAgent(args);
    await waitFor('the restarted agent running', () => second.output().includes('agent running'), 20_000);
    await waitFor('the adopted pod synced', () => second.output().includes('adopted'), 10_000);
    const after = await client.resources.get('Pod', 'default', 'hello');
    expect(after.status?.phase).toBe('Running');
    expect(after.status?.containerStatuses?.[0].containerID).toBe(containerID);
    expect(after.status?.containerStatuses?.[0].restartCount).toBe(0);
    expect(podProcesses(dataDir)).toHaveLength(1);

    await client.resources.delete('Pod', 'default', 'hello');
    await waitFor('the pod process gone', () => podProcesses(dataDir).length === 0, 15_000);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
