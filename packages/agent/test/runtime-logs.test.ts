import { readdir, readFile, stat, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@bramble/testkit';
import { readLog, tailOffset } from '../src/runtime/log-reader.js';
import type { ProcessRuntime } from '../src/runtime/index.js';
import { makePod, nodeCommand, pidOf, RuntimeHarness, waitForStatus } from './fixtures/runtime-harness.js';

async function collect(rt: ProcessRuntime, uid: string, opts: Parameters<ProcessRuntime['logs']>[1]): Promise<string> {
  let out = '';
  await rt.logs(uid, opts, (c) => (out += c.toString()), new AbortController().signal);
  return out;
}

describe('log reading', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bramble-runtime-logread-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tailOffset finds the start of the last N lines, with or without a trailing newline', async () => {
    const f = join(dir, 'a.log');
    await writeFile(f, 'one\ntwo\nthree\n');
    const from = async (n: number) => (await readFile(f, 'utf8')).slice(await tailOffset(f, n));
    expect(await from(1)).toBe('three\n');
    expect(await from(2)).toBe('two\nthree\n');
    expect(await from(10)).toBe('one\ntwo\nthree\n');
    expect(await from(0)).toBe('');
    await writeFile(f, 'one\ntwo');
    expect(await from(1)).toBe('two');
  });

  it('tailOffset works across chunk boundaries', async () => {
    const f = join(dir, 'big.log');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'y'.repeat(40)}`);
    await writeFile(f, lines.join('\n') + '\n');
    const text = await readFile(f, 'utf8');
    expect(text.slice(await tailOffset(f, 3000))).toBe(lines.slice(2000).join('\n') + '\n');
  });

  it('follow picks up appends and a truncation (copy-truncate rotation)', async () => {
    const f = join(dir, 'f.log');
    await writeFile(f, 'a\n');
    let out = '';
    const ac = new AbortController();
    const done = readLog(f, { follow: true, pollMs: 20 }, (c) => (out += c.toString()), ac.signal);
    await waitFor('first line', () => out === 'a\n');
    await writeFile(f, 'a\nb\n');
    await waitFor('appended line', () => out === 'a\nb\n');
    await writeFile(f, 'c\n'); // shorter than what was read: rotated
    await waitFor('line after truncation', () => out === 'a\nb\nc\n');
    ac.abort();
    await done;
  });
});

describe('container logs (real processes)', () => {
  let h: RuntimeHarness;
  beforeEach(async () => {
    h = await RuntimeHarness.create();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('tail, follow, previous after a restart, and clear errors', async () => {
    const rt = h.runtime();
    const pod = makePod('chat', [{ name: 'talk', command: nodeCommand('chatter.mjs'), env: [{ name: 'BURST', value: '20' }] }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { talk: [{ name: 'BURST', value: '20' }] } });
    const st = await waitForStatus(rt, uid, 'running', (s) => s.phase === 'Running');
    await expect(collect(rt, uid, { previous: true })).rejects.toThrow('previous terminated container "talk" in pod "default/chat" not found');
    await waitFor('25 lines', async () => (await collect(rt, uid, {})).split('\n').length > 25);
    const tail = await collect(rt, uid, { tailLines: 3 });
    const tailLines = tail.trimEnd().split('\n');
    expect(tailLines).toHaveLength(3);
    expect(tailLines[0]).toMatch(/^line \d+ $/);

    // follow: new lines keep arriving.
    let followed = '';
    const ac = new AbortController();
    const following = rt.logs(uid, { follow: true, tailLines: 0 }, (c) => (followed += c.toString()), ac.signal);
    await waitFor('followed lines', () => followed.split('\n').length > 3);
    ac.abort();
    await following;
    expect(followed.startsWith('line ')).toBe(true);

    // Restart: the old log becomes previous.log.
    const oldPid = pidOf(st);
    process.kill(oldPid, 'SIGKILL');
    await waitForStatus(rt, uid, 'restarted', (s) => s.containerStatuses[0].restartCount === 1 && !!s.containerStatuses[0].state?.running);
    const previous = await collect(rt, uid, { previous: true });
    expect(previous).toContain('line 0 \nline 1 \n');
    const lastPrevious = Number(/line (\d+) \n$/.exec(previous)![1]);
    expect(lastPrevious).toBeGreaterThanOrEqual(24);
    await waitFor('new instance logging', async () => (await collect(rt, uid, {})).startsWith('line 0 \n'));

    await expect(collect(rt, uid, { container: 'nope' })).rejects.toThrow('container nope is not valid for pod default/chat, choose one of: [talk]');
    await expect(collect(rt, 'unknown-uid', {})).rejects.toThrow('pod unknown-uid is not known to the runtime on this node');
    await expect(collect(rt, uid, { tailLines: -2 })).rejects.toThrow('tailLines must be an integer >= 0 (got -2)');
  });

  it('a pod with several containers needs a container name', async () => {
    const rt = h.runtime();
    const pod = makePod('two', [
      { name: 'a', command: nodeCommand('exit.mjs', '0', '100000') },
      { name: 'b', command: nodeCommand('exit.mjs', '0', '100000') },
    ]);
    rt.syncPod({ pod, resolvedEnv: {} });
    await waitForStatus(rt, pod.metadata.uid!, 'running', (s) => s.phase === 'Running');
    await expect(collect(rt, pod.metadata.uid!, {})).rejects.toThrow('a container name must be specified for pod default/two, choose one of: [a b]');
    await waitFor('b logged', async () => (await collect(rt, pod.metadata.uid!, { container: 'b' })).includes('exit fixture'));
  });

  it('copy-truncate rotation keeps logMaxFiles old files and the process keeps logging', async () => {
    const rt = h.runtime({ logMaxBytes: 4096, logMaxFiles: 2, logCheckIntervalMs: 60_000 });
    const env = [
      { name: 'BURST', value: '100' },
      { name: 'LINE_PAD', value: '100' },
      { name: 'INTERVAL_MS', value: '5' },
    ];
    const pod = makePod('rot', [{ name: 'c', command: nodeCommand('chatter.mjs'), env }]);
    const uid = pod.metadata.uid!;
    rt.syncPod({ pod, resolvedEnv: { c: env } });
    const dir = join(h.dataDir, 'pods', `default_rot_${uid}`, 'c');
    const size = (name: string) => stat(join(dir, name)).then((s) => s.size, () => -1);
    for (let round = 1; round <= 3; round++) {
      await waitFor(`current.log over the limit (round ${round})`, async () => (await size('current.log')) > 4096);
      rt.checkLogRotation();
      expect(await size('current.log.1')).toBeGreaterThan(4096);
    }
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['current.log', 'current.log.1', 'current.log.2']);
    // Writes continue at the start of the truncated file (O_APPEND), not at the old offset.
    await waitFor('new lines after rotation', async () => (await size('current.log')) > 0);
    const head = (await readFile(join(dir, 'current.log'))).subarray(0, 5);
    expect(head.toString()).not.toContain('\0');
    expect(rt.status(uid)!.phase).toBe('Running');
  });
});
