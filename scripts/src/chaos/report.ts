// The run's summary line, report.json and report.md.
import type { LeaderEpoch, TermSample } from './monitor.js';
import type { FaultRecord, TimelineEvent } from './nemesis.js';
import type { OpRecord, OpType } from './workload.js';

/** The one JSON line on stdout. The first keys are the contract; the rest help reading it. */
export interface Summary {
  duration_s: number;
  ops: number;
  ok: number;
  failed: number;
  unknown: number;
  faults: Record<string, number>;
  leader_changes: number;
  max_unavailable_ms: number;
  linearizable: true | false | 'unknown';
  lost_acked: number;
  watch_ok: boolean;
  converged: boolean;
  revisions_ok: boolean;
  /** Masters that exited without the nemesis stopping them. */
  crashes: number;
  seed: number;
  masters: number;
  report: string;
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: round1(percentile(s, 0.5)), p90: round1(percentile(s, 0.9)), p99: round1(percentile(s, 0.99)), max: round1(s[s.length - 1] ?? 0) };
}

export function latencyByType(records: OpRecord[]): Record<OpType, Percentiles> {
  const out = {} as Record<OpType, Percentiles>;
  for (const type of ['get', 'put', 'cas', 'delete'] as OpType[]) {
    out[type] = percentiles(records.filter((r) => r.phase === 'run' && r.type === type && r.outcome === 'ok').map((r) => r.returnMs! - r.callMs));
  }
  return out;
}

/** The longest stretch of the workload in which no client operation succeeded. */
export function maxUnavailableMs(records: OpRecord[], endMs: number): { ms: number; fromMs: number; toMs: number } {
  const times = records
    .filter((r) => r.phase === 'run' && r.outcome === 'ok')
    .map((r) => r.returnMs!)
    .sort((a, b) => a - b);
  let best = { ms: 0, fromMs: 0, toMs: 0 };
  let prev = 0;
  for (const t of [...times, endMs]) {
    if (t - prev > best.ms) best = { ms: Math.round(t - prev), fromMs: Math.round(prev), toMs: Math.round(t) };
    prev = Math.max(prev, t);
  }
  return best;
}

export interface SecondStats {
  second: number;
  ok: number;
  fail: number;
  unknown: number;
  p50: number;
  p99: number;
}

export function perSecond(records: OpRecord[], endMs: number): SecondStats[] {
  const seconds = Math.ceil(endMs / 1000);
  const rows: Array<{ ok: number; fail: number; unknown: number; lat: number[] }> = Array.from({ length: seconds }, () => ({ ok: 0, fail: 0, unknown: 0, lat: [] }));
  for (const r of records) {
    if (r.phase !== 'run' || r.returnMs === undefined || !r.outcome) continue;
    const row = rows[Math.min(seconds - 1, Math.floor(r.returnMs / 1000))];
    if (!row) continue;
    row[r.outcome]++;
    if (r.outcome === 'ok') row.lat.push(r.returnMs - r.callMs);
  }
  return rows.map((row, second) => {
    const s = row.lat.sort((a, b) => a - b);
    return { second, ok: row.ok, fail: row.fail, unknown: row.unknown, p50: round1(percentile(s, 0.5)), p99: round1(percentile(s, 0.99)) };
  });
}

export interface ReportData {
  summary: Summary;
  replay: string;
  options: object;
  startedAt: string;
  clusterDir?: string;
  startRevision: number;
  finalRevision: number;
  faults: FaultRecord[];
  timeline: TimelineEvent[];
  leaders: LeaderEpoch[];
  terms: TermSample[];
  latencyMs: Record<OpType, Percentiles>;
  unavailable: { ms: number; fromMs: number; toMs: number };
  perSecond: SecondStats[];
  checks: Record<string, unknown>;
  violation?: string;
  proxies: Record<string, unknown>;
  notes: string[];
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(2);
}

const CHECK_LABELS: Array<[keyof Summary, string]> = [
  ['linearizable', 'linearizable (WGL checker, final reads included)'],
  ['lost_acked', 'acknowledged writes lost'],
  ['watch_ok', 'watches: every revision once, in order, agreeing'],
  ['revisions_ok', 'revisions monotonic (per member, real time, per key)'],
  ['converged', 'replicas converged (HashKV)'],
  ['crashes', 'masters that exited on their own'],
];

export function renderMarkdown(d: ReportData): string {
  const s = d.summary;
  const passed = (k: keyof Summary): boolean => (k === 'lost_acked' || k === 'crashes' ? s[k] === 0 : s[k] === true);
  const lines: string[] = [];
  lines.push(`# Chaos run: seed ${s.seed}, ${s.masters} masters, ${s.duration_s} s`);
  lines.push('');
  lines.push(`Started ${d.startedAt}. Replay: \`${d.replay}\``);
  if (d.clusterDir) lines.push(`Cluster directory (kept): \`${d.clusterDir}\``);
  lines.push('');
  lines.push('## Checks');
  lines.push('');
  lines.push('| check | result |');
  lines.push('|---|---|');
  for (const [k, label] of CHECK_LABELS) lines.push(`| ${label} | ${passed(k) ? 'pass' : '**FAIL**'}: ${JSON.stringify(s[k])} |`);
  lines.push('');
  lines.push(
    `${s.ops} operations: ${s.ok} ok, ${s.failed} failed, ${s.unknown} unknown. ` +
      `Faults: ${Object.entries(s.faults).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}. ` +
      `Leader changes: ${s.leader_changes}. Longest stretch without a successful operation: ${d.unavailable.ms} ms ` +
      `(${secs(d.unavailable.fromMs)}–${secs(d.unavailable.toMs)} s). Revisions ${d.startRevision + 1}–${d.finalRevision}.`,
  );
  if (d.violation) {
    lines.push('');
    lines.push('## Linearizability violation (smallest window)');
    lines.push('');
    lines.push('```');
    lines.push(d.violation);
    lines.push('```');
  }
  const problems = Object.entries(d.checks).flatMap(([name, c]) => ((c as { examples?: string[] }).examples ?? []).map((e) => `- ${name}: ${e}`));
  if (problems.length > 0 || d.notes.length > 0) {
    lines.push('');
    lines.push('## Problems and notes');
    lines.push('');
    lines.push(...problems, ...d.notes.map((n) => `- ${n}`));
  }
  lines.push('');
  lines.push('## Latency (ok operations, ms)');
  lines.push('');
  lines.push('| op | count | p50 | p90 | p99 | max |');
  lines.push('|---|---|---|---|---|---|');
  for (const [op, p] of Object.entries(d.latencyMs)) lines.push(`| ${op} | ${p.count} | ${p.p50} | ${p.p90} | ${p.p99} | ${p.max} |`);
  lines.push('');
  lines.push('## Timeline');
  lines.push('');
  lines.push('Seconds since the clients started. Leaders as first seen by the Status poller (every 100 ms).');
  lines.push('');
  lines.push('| t (s) | event |');
  lines.push('|---|---|');
  const rows: Array<{ atMs: number; text: string }> = [
    ...d.timeline.map((e) => ({ atMs: e.atMs, text: e.type === 'inject' ? `fault ${e.faultId}: ${e.text}` : e.type === 'heal' ? `fault ${e.faultId} healed: ${e.text}` : `note: ${e.text}` })),
    ...d.leaders.map((l) => ({ atMs: l.atMs, text: `leader ${l.leader}, term ${l.term}` })),
  ].sort((a, b) => a.atMs - b.atMs);
  for (const r of rows) lines.push(`| ${secs(r.atMs)} | ${r.text.replace(/\|/g, '\\|')} |`);
  lines.push('');
  lines.push('## Per second');
  lines.push('');
  lines.push('Operations by the second they completed in; latency of the ok ones. Faults active during that second.');
  lines.push('');
  lines.push('| s | ok | fail | unknown | p50 ms | p99 ms | faults |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const row of d.perSecond) {
    const from = row.second * 1000;
    const to = from + 1000;
    const active = d.faults
      .filter((f) => f.description && f.startedAtMs < to && (f.healedAtMs ?? Infinity) >= from)
      .map((f) => `${f.id}:${f.kind}${f.variant ? `/${f.variant}` : ''} ${f.targets.join(',')}`)
      .join('; ');
    lines.push(`| ${row.second} | ${row.ok} | ${row.fail} | ${row.unknown} | ${row.p50} | ${row.p99} | ${active} |`);
  }
  lines.push('');
  return lines.join('\n');
}
