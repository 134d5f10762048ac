// kill -9 at random instants: a child process (fixtures/writer.mjs, running the
// built package) persists random Readies as fast as it can and reports each one
// before issuing it ("begin") and after it resolved ("done"). The parent kills it
// with SIGKILL at a random moment, reopens the database, and checks that what is
// on disk is exactly the state after the last reported write, or after the one
// in flight at the kill: nothing acknowledged is lost, nothing half-written shows.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type ConfState, type HardState } from '@bramble/raft';
import { LevelStorage } from '../src/index.js';
import { dataFor, snapshotDataFor, tempDirs } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer.mjs', import.meta.url));
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));

// Override for a longer soak: STORAGE_CRASH_ROUNDS=200 STORAGE_CRASH_SEED=7 npx vitest run packages/storage/test/crash.test.ts
const SEED = Number(process.env.STORAGE_CRASH_SEED ?? 20_241_122);
const ROUNDS = Number(process.env.STORAGE_CRASH_ROUNDS ?? 20);
const WAIT_DEADLINE_MS = 20_000;

// ---------------------------------------------------------------- the model of what must be on disk

type Op =
  | { kind: 'ready'; from: number; to: number; term: number; hardState: HardState; mustSync: boolean; snapshot?: { index: number; term: number } }
  | { kind: 'snapshot'; index: number; compactTo: number; confState: ConfState }
  | { kind: 'conf'; confState: ConfState; appliedIndex: number };

interface Model {
  offset: { index: number; term: number };
  /** Terms of the entries offset.index+1 .. offset.index+terms.length. */
  terms: number[];
  snapshot: { index: number; term: number; confState: ConfState };
  hardState: HardState;
  conf?: { appliedIndex: number; confState: ConfState };
}

const EMPTY_MODEL: Model = {
  offset: { index: 0, term: 0 },
  terms: [],
  snapshot: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  hardState: { term: 0, vote: '', commit: 0 },
};

function termAt(m: Model, index: number): number {
  if (index === m.offset.index) return m.offset.term;
  const t = m.terms[index - m.offset.index - 1];
  if (t === undefined) throw new Error(`model has no entry ${index}`);
  return t;
}

/** What a write does, by the storage contract (independent of how LevelStorage does it). */
function applyOp(prev: Model, op: Op): Model {
  const m: Model = structuredClone(prev);
  switch (op.kind) {
    case 'ready':
      if (op.snapshot) {
        m.offset = { ...op.snapshot };
        m.terms = [];
        m.snapshot = { ...op.snapshot, confState: { voters: ['m1', 'm2', 'm3'], learners: [] } };
      }
      if (op.to >= op.from) {
        m.terms.length = op.from - m.offset.index - 1; // drop the conflicting suffix
        for (let i = op.from; i <= op.to; i++) m.terms.push(op.term);
      }
      m.hardState = { ...op.hardState };
      return m;
    case 'snapshot': {
      m.snapshot = { index: op.index, term: termAt(m, op.index), confState: op.confState };
      const to = Math.max(m.offset.index, op.compactTo);
      m.terms = m.terms.slice(to - m.offset.index);
      m.offset = { index: to, term: termAt(prev, to) };
      return m;
    }
    case 'conf':
      m.conf = { appliedIndex: op.appliedIndex, confState: op.confState };
      return m;
  }
}

/** The model in the shape `observe` reads a storage in. */
function expected(m: Model) {
  const useConf = m.conf && m.conf.appliedIndex >= m.snapshot.index;
  return {
    firstIndex: m.offset.index + 1,
    lastIndex: m.offset.index + m.terms.length,
    offsetTerm: m.offset.term,
    terms: m.terms,
    hardState: m.hardState,
    confState: useConf ? m.conf!.confState : m.snapshot.confState,
    snapshot: { index: m.snapshot.index, term: m.snapshot.term, confState: m.snapshot.confState },
  };
}

/** Read a reopened storage, checking what must hold of any state (contiguity, data bytes, hard state bounds) along the way. */
function observe(s: LevelStorage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const entries = s.entries(first, last + 1);
  expect(entries.map((e) => e.index)).toEqual(Array.from({ length: last - first + 1 }, (_, k) => first + k));
  for (const e of entries) expect(Buffer.from(e.data).equals(Buffer.from(dataFor(e.index, e.term))), `data of entry ${e.index}`).toBe(true);
  const { hardState, confState } = s.initialState();
  const lastTerm = s.term(last);
  expect(hardState.commit).toBeLessThanOrEqual(last);
  expect(hardState.term).toBeGreaterThanOrEqual(lastTerm);
  const snap = s.snapshot();
  if (snap.meta.index > 0) expect(Buffer.from(snap.data).equals(Buffer.from(snapshotDataFor(snap.meta.index)))).toBe(true);
  return {
    firstIndex: first,
    lastIndex: last,
    offsetTerm: s.term(first - 1),
    terms: entries.map((e) => e.term),
    hardState,
    confState,
    snapshot: snap.meta,
  };
}

// ---------------------------------------------------------------- the child process

interface Writer {
  child: ChildProcess;
  lines: string[];
  done: number;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWriter(dir: string, seed: number): Writer {
  const child = spawn(process.execPath, [WRITER, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: Writer = { child, lines: [], done: 0, stderr: '', exited: undefined as never };
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      w.lines.push(line);
      if (line.startsWith('done ')) w.done++;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (w.stderr += chunk));
  // 'close' comes after both pipes are drained, so every line the child wrote has been read.
  w.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return w;
}

async function waitFor(what: string, w: Writer, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_DEADLINE_MS;
  while (!cond()) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) throw new Error(`writer exited while waiting for ${what}: ${w.stderr}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_DEADLINE_MS} ms waiting for ${what}; stderr: ${w.stderr}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The writes the child reported as durable, and the one it had issued but not seen resolve. */
function parseReport(lines: string[]): { done: Op[]; inFlight?: Op } {
  const begun = new Map<number, Op>();
  const done: Op[] = [];
  let inFlight: Op | undefined;
  for (const line of lines) {
    const [word, seqText, ...rest] = line.split(' ');
    const seq = Number(seqText);
    if (word === 'begin') {
      if (inFlight) throw new Error(`writer began ${seq} before finishing the previous write`);
      inFlight = JSON.parse(rest.join(' ')) as Op;
      begun.set(seq, inFlight);
    } else if (word === 'done') {
      const op = begun.get(seq);
      if (!op || op !== inFlight) throw new Error(`writer reported done ${seq} without its begin`);
      done.push(op);
      inFlight = undefined;
    }
  }
  return inFlight ? { done, inFlight } : { done };
}

// ---------------------------------------------------------------- the test

const dirs = tempDirs();
let running: Writer | undefined;

beforeAll(() => {
  // The child runs the built package, as a master would.
  execFileSync(process.execPath, [TSC, '-b', 'packages/storage'], { cwd: ROOT, stdio: 'pipe' });
});

afterEach(async () => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  running = undefined;
  dirs.cleanup();
});

describe('crash safety', () => {
  it(`keeps every acknowledged write through ${ROUNDS} kill -9s at random instants (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const dir = dirs.make();
    let model = EMPTY_MODEL;
    const tally = { rounds: 0, writesAcknowledged: 0, killedMidWrite: 0, inFlightLanded: 0 };

    for (let round = 0; round < ROUNDS; round++) {
      const childSeed = Math.floor(random() * 2 ** 31);
      const minDone = 1 + Math.floor(random() * 20);
      const delayMs = 5 + Math.floor(random() * 196);
      const context = `round ${round} (child seed ${childSeed}, after ${minDone} writes + ${delayMs} ms)`;

      const w = startWriter(dir, childSeed);
      running = w;
      await waitFor(`${minDone} acknowledged writes in ${context}`, w, () => w.done >= minDone);
      await new Promise((r) => setTimeout(r, delayMs));
      w.child.kill('SIGKILL');
      const exit = await w.exited;
      running = undefined;
      expect(exit.signal, `${context}: writer died on its own: ${w.stderr}`).toBe('SIGKILL');

      const report = parseReport(w.lines);
      const afterDone = report.done.reduce(applyOp, model);
      const afterInFlight = report.inFlight ? applyOp(afterDone, report.inFlight) : undefined;

      const storage = await LevelStorage.open(dir);
      let seen;
      try {
        seen = observe(storage);
      } finally {
        await storage.close();
      }
      if (isDeepStrictEqual(seen, expected(afterDone))) {
        model = afterDone;
      } else if (afterInFlight && isDeepStrictEqual(seen, expected(afterInFlight))) {
        model = afterInFlight;
        tally.inFlightLanded++;
      } else {
        // Neither: show the difference from the state every acknowledged write implies.
        expect(seen, `${context}: disk matches neither the acknowledged state nor the one with the in-flight write`).toEqual(expected(afterDone));
      }
      tally.rounds++;
      tally.writesAcknowledged += report.done.length;
      if (report.inFlight) tally.killedMidWrite++;
    }

    console.log(`crash test: ${JSON.stringify(tally)}; final log ${model.offset.index + 1}..${model.offset.index + model.terms.length}`);
    expect(tally.rounds).toBe(ROUNDS);
  }, 60_000 + ROUNDS * 6_000);
});
