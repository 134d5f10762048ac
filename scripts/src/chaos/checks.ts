// The checks of a chaos run beyond linearizability: the keyspace's history as the watches
// delivered it, acknowledged writes against that history and the final state, revision
// monotonicity, and replica convergence.
import { seededRandom } from '@bramble/raft';
import { isEffectiveWrite, type OpRecord } from './workload.js';
import type { WatchedEvent } from './watch.js';

/** A key as stored: what a Range returns and what replaying the history yields. */
export interface KeyState {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface WatchInput {
  id: number;
  home: string;
  events: WatchedEvent[];
  lastRevision: number;
  reconnects: number;
  problems: string[];
}

const MAX_EXAMPLES = 10;

function pushExample(list: string[], text: string): void {
  if (list.length < MAX_EXAMPLES) list.push(text);
}

function describeEvent(e: WatchedEvent | undefined): string {
  if (!e) return 'nothing';
  return e.type === 'PUT' ? `PUT ${e.key}=${e.value}@${e.modRevision}` : `DELETE ${e.key}@${e.modRevision}`;
}

function sameEvent(a: WatchedEvent, b: WatchedEvent): boolean {
  return (
    a.type === b.type &&
    a.key === b.key &&
    a.modRevision === b.modRevision &&
    (a.type === 'DELETE' || (a.value === b.value && a.createRevision === b.createRevision && a.version === b.version))
  );
}

// ------------------------------------------------------------------ watches

export interface WatchCheck {
  ok: boolean;
  /** The keyspace's history, one event per revision, as the watches agree on it (revisions without any event left out). */
  history: Map<number, WatchedEvent>;
  perWatch: Array<{ id: number; home: string; events: number; lastRevision: number; reconnects: number; gaps: number; duplicates: number; outOfOrder: number }>;
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  disagreements: number;
  /** Replaying the history does not give versions / create revisions a store would. */
  inconsistent: number;
  /** PUT values written twice, or by no operation of the run; deletes no operation explains. */
  phantom: number;
  examples: string[];
}

/**
 * Every revision in (startRevision, finalRevision] touched the watched prefix (nothing else
 * writes), so each watch must deliver each of them exactly once, in order, and all watches
 * the same events. The agreed history must also replay like a store (versions, create
 * revisions) and contain only writes the clients issued, each at most once.
 */
export function checkWatches(watches: WatchInput[], startRevision: number, finalRevision: number, records: OpRecord[]): WatchCheck {
  const examples: string[] = [];
  const history = new Map<number, WatchedEvent>();
  let [gaps, duplicates, outOfOrder, disagreements, inconsistent, phantom] = [0, 0, 0, 0, 0, 0];
  const perWatch: WatchCheck['perWatch'] = [];
  let problems = 0;
  for (const w of watches) {
    let wGaps = 0;
    let wDup = 0;
    let wOoo = 0;
    const seen = new Set<number>();
    let prev = startRevision;
    for (const e of w.events) {
      if (seen.has(e.modRevision)) {
        wDup++;
        pushExample(examples, `watch ${w.id} (${w.home}): revision ${e.modRevision} delivered again (${describeEvent(e)} from ${e.member})`);
        continue;
      }
      seen.add(e.modRevision);
      if (e.modRevision < prev) {
        wOoo++;
        pushExample(examples, `watch ${w.id} (${w.home}): revision ${e.modRevision} after ${prev} (from ${e.member})`);
      }
      prev = Math.max(prev, e.modRevision);
      const agreed = history.get(e.modRevision);
      if (!agreed) history.set(e.modRevision, e);
      else if (!sameEvent(agreed, e)) {
        disagreements++;
        pushExample(examples, `revision ${e.modRevision}: watch ${w.id} got ${describeEvent(e)} from ${e.member}, another watch ${describeEvent(agreed)} from ${agreed.member}`);
      }
    }
    for (let r = startRevision + 1; r <= finalRevision; r++) {
      if (!seen.has(r)) {
        wGaps++;
        if (wGaps <= 3) pushExample(examples, `watch ${w.id} (${w.home}): revision ${r} never delivered`);
      }
    }
    if (w.lastRevision < finalRevision) pushExample(examples, `watch ${w.id} (${w.home}) stopped at revision ${w.lastRevision}, the store is at ${finalRevision}`);
    for (const p of w.problems) {
      problems++;
      pushExample(examples, p);
    }
    gaps += wGaps;
    duplicates += wDup;
    outOfOrder += wOoo;
    perWatch.push({ id: w.id, home: w.home, events: w.events.length, lastRevision: w.lastRevision, reconnects: w.reconnects, gaps: wGaps, duplicates: wDup, outOfOrder: wOoo });
  }

  // Replay the agreed history like a store would, and match it with the clients' operations.
  const writers = new Map<string, OpRecord>();
  const deletesPerKey = new Map<string, number>();
  for (const r of records) {
    if (!r || r.outcome === 'fail' || (r.type === 'cas' && r.outcome === 'ok' && r.result === false)) continue;
    if ((r.type === 'put' || r.type === 'cas') && r.value !== undefined) writers.set(r.value, r);
    if (r.type === 'delete' && (r.outcome === 'unknown' || r.result === true)) deletesPerKey.set(r.key, (deletesPerKey.get(r.key) ?? 0) + 1);
  }
  const state = new Map<string, KeyState>();
  const putValues = new Set<string>();
  const deleteEvents = new Map<string, number>();
  for (const rev of [...history.keys()].sort((a, b) => a - b)) {
    const e = history.get(rev)!;
    const cur = state.get(e.key);
    if (e.type === 'PUT') {
      const wantCreate = cur ? cur.createRevision : e.modRevision;
      const wantVersion = cur ? cur.version + 1 : 1;
      if (e.createRevision !== wantCreate || e.version !== wantVersion) {
        inconsistent++;
        pushExample(examples, `revision ${rev}: ${describeEvent(e)} has create_revision ${e.createRevision}, version ${e.version}; the history before it gives ${wantCreate}, ${wantVersion}`);
      }
      if (putValues.has(e.value)) {
        phantom++;
        pushExample(examples, `revision ${rev}: value ${e.value} written a second time (one write applied twice?)`);
      }
      putValues.add(e.value);
      const writer = writers.get(e.value);
      if (!writer || writer.key !== e.key) {
        phantom++;
        pushExample(examples, `revision ${rev}: ${describeEvent(e)} was written by no operation of the run`);
      }
      state.set(e.key, { key: e.key, value: e.value, createRevision: e.createRevision, modRevision: e.modRevision, version: e.version });
    } else {
      if (!cur) {
        inconsistent++;
        pushExample(examples, `revision ${rev}: DELETE of ${e.key}, which the history says is absent`);
      }
      const n = (deleteEvents.get(e.key) ?? 0) + 1;
      deleteEvents.set(e.key, n);
      if (n > (deletesPerKey.get(e.key) ?? 0)) {
        phantom++;
        pushExample(examples, `revision ${rev}: DELETE ${e.key} is more deletes of ${e.key} than the clients issued`);
      }
      state.delete(e.key);
    }
  }
  const ok =
    watches.length > 0 &&
    gaps + duplicates + outOfOrder + disagreements + inconsistent + phantom + problems === 0 &&
    watches.every((w) => w.lastRevision === finalRevision);
  return { ok, history, perWatch, gaps, duplicates, outOfOrder, disagreements, inconsistent, phantom, examples };
}

/** The state of every key after the history's events up to `revision`. */
export function replay(history: Map<number, WatchedEvent>, revision: number): Map<string, KeyState> {
  const state = new Map<string, KeyState>();
  for (const rev of [...history.keys()].sort((a, b) => a - b)) {
    if (rev > revision) break;
    const e = history.get(rev)!;
    if (e.type === 'PUT') state.set(e.key, { key: e.key, value: e.value, createRevision: e.createRevision, modRevision: e.modRevision, version: e.version });
    else state.delete(e.key);
  }
  return state;
}

export function sameState(a: Map<string, KeyState>, b: KeyState[]): string | undefined {
  const bm = new Map(b.map((s) => [s.key, s]));
  for (const key of new Set([...a.keys(), ...bm.keys()])) {
    const x = a.get(key);
    const y = bm.get(key);
    if (JSON.stringify(x) !== JSON.stringify(y)) return `${key}: history gives ${JSON.stringify(x ?? null)}, the store has ${JSON.stringify(y ?? null)}`;
  }
  return undefined;
}

/** Revisions to compare a Range at that revision against the replayed history: always the first and last, the rest drawn from the seed. */
export function sampleRevisions(startRevision: number, finalRevision: number, count: number, seed: number): number[] {
  const random = seededRandom((seed ^ 0x0ddba11) >>> 0);
  const out = new Set<number>([startRevision, finalRevision]);
  const span = finalRevision - startRevision;
  for (let i = 0; i < count && out.size < span + 1; i++) out.add(startRevision + Math.floor(random() * (span + 1)));
  return [...out].sort((a, b) => a - b);
}

// ------------------------------------------------------------------ acknowledged writes

export interface LostAckCheck {
  lost: number;
  /** Acknowledged effective writes, and how many the watched history confirmed at their revision. */
  acked: number;
  confirmed: number;
  /** Confirmed by a Range at the write's revision instead (no watch delivered that revision). */
  confirmedByRange: number;
  examples: string[];
}

/** What a Range of one key at one revision returned (undefined = absent). */
export type RangeAt = (key: string, revision: number) => Promise<KeyState | undefined>;

/**
 * No acknowledged write is lost:
 * 1. each acknowledged put / successful cas / delete is in the keyspace history at the
 *    revision its response reported (from the watches; a Range at that revision when no
 *    watch has it);
 * 2. per key, the final state is the last acknowledged write's, unless a later write whose
 *    outcome is unknown explains it: after the last acknowledged write only writes of
 *    unknown outcome may follow.
 */
export async function checkAckedWrites(
  records: OpRecord[],
  history: Map<number, WatchedEvent>,
  finalState: KeyState[],
  keys: string[],
  rangeAt: RangeAt,
): Promise<LostAckCheck> {
  const examples: string[] = [];
  let lost = 0;
  let confirmed = 0;
  let confirmedByRange = 0;
  const writes = records.filter((r) => r && r.phase === 'run' && isEffectiveWrite(r));
  const describe = (w: OpRecord): string =>
    `${w.type === 'delete' ? 'delete' : `${w.type} ${w.value}`} of ${w.key} (op #${w.id}, client ${w.client}, on ${w.member}) acknowledged at revision ${w.revision}`;
  for (const w of writes) {
    const e = history.get(w.revision!);
    if (e) {
      const matches = e.key === w.key && (w.type === 'delete' ? e.type === 'DELETE' : e.type === 'PUT' && e.value === w.value);
      if (matches) confirmed++;
      else {
        lost++;
        pushExample(examples, `${describe(w)}, but revision ${w.revision} is ${describeEvent(e)}`);
      }
      continue;
    }
    const at = await rangeAt(w.key, w.revision!);
    const matches = w.type === 'delete' ? at === undefined : at !== undefined && at.modRevision === w.revision && at.value === w.value;
    if (matches) confirmedByRange++;
    else {
      lost++;
      pushExample(examples, `${describe(w)}, but a Range at that revision gives ${JSON.stringify(at ?? null)}`);
    }
  }

  const final = new Map(finalState.map((s) => [s.key, s]));
  for (const key of keys) {
    const mine = writes.filter((w) => w.key === key);
    if (mine.length === 0) continue;
    const last = mine.reduce((a, b) => (b.revision! > a.revision! ? b : a));
    const unknownValues = new Set(
      records.filter((r) => r && r.key === key && r.outcome === 'unknown' && (r.type === 'put' || r.type === 'cas')).map((r) => r.value!),
    );
    const unknownDeletes = records.filter((r) => r && r.key === key && r.outcome === 'unknown' && r.type === 'delete').length;
    const f = final.get(key);
    let problem: string | undefined;
    if (f && f.modRevision < last.revision!) problem = `the final state of ${key} is from revision ${f.modRevision}, before the last acknowledged write (${describe(last)})`;
    else if (f && f.modRevision === last.revision!) {
      if (last.type === 'delete' || f.value !== last.value) problem = `${key} is ${f.value}@${f.modRevision} at the end, but ${describe(last)}`;
    } else if (f && !unknownValues.has(f.value)) {
      problem = `${key} is ${f.value}@${f.modRevision} at the end, written by no operation of unknown outcome after ${describe(last)}`;
    } else if (!f && last.type !== 'delete' && unknownDeletes === 0) {
      problem = `${key} is absent at the end, but ${describe(last)} and no delete of unknown outcome could have followed`;
    }
    // After the last acknowledged write only writes of unknown outcome may appear in the history.
    for (const [rev, e] of history) {
      if (problem) break;
      if (rev <= last.revision! || e.key !== key) continue;
      if (e.type === 'PUT' && !unknownValues.has(e.value)) problem = `revision ${rev} (${describeEvent(e)}) follows ${describe(last)} and is no write of unknown outcome`;
      if (e.type === 'DELETE' && unknownDeletes === 0) problem = `revision ${rev} (${describeEvent(e)}) follows ${describe(last)} and no delete of unknown outcome was issued`;
    }
    if (problem) {
      lost++;
      pushExample(examples, problem);
    }
  }
  return { lost, acked: writes.length, confirmed, confirmedByRange, examples };
}

// ------------------------------------------------------------------ revisions

export interface RevisionCheck {
  ok: boolean;
  /** Per member and process incarnation, a later response carried a lower header revision. */
  perMember: number;
  /** Across members: an operation that began after another ended saw an older revision (linearizable operations only). */
  realTime: number;
  /** Per key: an acknowledged write that began after another ended got a lower or equal mod_revision. */
  perKey: number;
  /** Two acknowledged writes with the same revision. */
  duplicateRevisions: number;
  examples: string[];
}

interface Timed {
  r: OpRecord;
  call: number;
  ret: number;
  rev: number;
}

/**
 * For ops sorted by call: the op with the highest revision among those that returned at or
 * before each op's call (real-time predecessors), to compare with.
 */
function checkMonotone(ops: Timed[], strict: (b: Timed) => boolean, report: (a: Timed, b: Timed) => void): number {
  const byCall = [...ops].sort((a, b) => a.call - b.call);
  const byReturn = [...ops].sort((a, b) => a.ret - b.ret);
  let i = 0;
  let best: Timed | undefined;
  let violations = 0;
  for (const b of byCall) {
    while (i < byReturn.length && byReturn[i].ret <= b.call) {
      if (!best || byReturn[i].rev > best.rev) best = byReturn[i];
      i++;
    }
    if (!best) continue;
    if (b.rev < best.rev || (strict(b) && b.rev === best.rev)) {
      violations++;
      report(best, b);
    }
  }
  return violations;
}

export function checkRevisions(records: OpRecord[]): RevisionCheck {
  const examples: string[] = [];
  const ok = records.filter((r) => r && r.outcome === 'ok' && r.returnMs !== undefined && r.revision !== undefined);
  const timed = (r: OpRecord): Timed => ({ r, call: r.callMs, ret: r.returnMs!, rev: r.revision! });
  const show = (t: Timed): string =>
    `#${t.r.id} ${t.r.type} ${t.r.key} on ${t.r.member} [${t.call.toFixed(1)}, ${t.ret.toFixed(1)}] ms revision ${t.rev}`;
  const reporter = (what: string) => (a: Timed, b: Timed) => pushExample(examples, `${what}: ${show(b)} began after ${show(a)} ended`);

  let perMember = 0;
  const groups = new Map<string, Timed[]>();
  for (const r of ok) {
    if (r.crossedRestart) continue;
    const g = `${r.member}#${r.incarnation}`;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(timed(r));
  }
  for (const ops of groups.values()) perMember += checkMonotone(ops, () => false, reporter('header revision went back on one member'));

  const linearizable = ok.filter((r) => !r.serializable).map(timed);
  const realTime = checkMonotone(linearizable, (b) => isEffectiveWrite(b.r), reporter('revision went back across members'));

  let perKey = 0;
  const writes = ok.filter(isEffectiveWrite);
  const byKey = new Map<string, Timed[]>();
  for (const w of writes) {
    if (!byKey.has(w.key)) byKey.set(w.key, []);
    byKey.get(w.key)!.push(timed(w));
  }
  for (const ops of byKey.values()) perKey += checkMonotone(ops, () => true, reporter('mod_revision of successive writes to one key did not increase'));

  let duplicateRevisions = 0;
  const byRevision = new Map<number, OpRecord>();
  for (const w of writes) {
    const other = byRevision.get(w.revision!);
    if (other) {
      duplicateRevisions++;
      pushExample(examples, `two acknowledged writes at revision ${w.revision}: #${other.id} (${other.type} ${other.key}) and #${w.id} (${w.type} ${w.key})`);
    } else byRevision.set(w.revision!, w);
  }
  return { ok: perMember + realTime + perKey + duplicateRevisions === 0, perMember, realTime, perKey, duplicateRevisions, examples };
}

// ------------------------------------------------------------------ convergence

export interface HashReport {
  member: string;
  hash: string;
  revision: number;
  appliedIndex: number;
  compactRevision: number;
}

export function checkConvergence(hashes: Array<HashReport | { member: string; error: string }>): { ok: boolean; detail: string } {
  const errors = hashes.filter((h): h is { member: string; error: string } => 'error' in h);
  if (errors.length > 0) return { ok: false, detail: errors.map((e) => `${e.member}: ${e.error}`).join('; ') };
  const ok = hashes as HashReport[];
  const first = ok[0];
  const same = ok.every((h) => h.hash === first.hash && h.revision === first.revision && h.appliedIndex === first.appliedIndex);
  const detail = ok.map((h) => `${h.member}: ${h.hash.slice(0, 12)} rev ${h.revision} applied ${h.appliedIndex}`).join('; ');
  return { ok: same, detail };
}
