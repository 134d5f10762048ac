// scripts/chaos: start a cluster behind per-link proxies, run concurrent clients and watches
// while a nemesis injects faults, heal, then check linearizability, acknowledged writes,
// watches, revisions and convergence. One JSON line on stdout; a report directory; exit 0
// only when every check passes. See README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { checkOperations, formatViolation, kvModel } from '@bramble/linearizability';
import { ProcessCluster } from '@bramble/testkit';
import {
  checkAckedWrites,
  checkConvergence,
  checkRevisions,
  checkWatches,
  replay,
  sameState,
  sampleRevisions,
  type HashReport,
  type KeyState,
} from './checks.js';
import { LeaderMonitor } from './monitor.js';
import { Nemesis } from './nemesis.js';
import { parseChaosArgs, replayCommand, UsageError, USAGE, type ChaosOptions } from './options.js';
import { planFaults } from './plan.js';
import { ProxyMesh } from './proxy.js';
import { latencyByType, maxUnavailableMs, perSecond, renderMarkdown, type ReportData, type Summary } from './report.js';
import { Conns, errorText, prefixEnd, sleep, type Reply } from './rpc.js';
import { registryKey } from '@bramble/api';
import { ResumingWatch } from './watch.js';
import { Workload } from './workload.js';

const PREFIX = '/chaos/';
const SPOT_CHECKS = 100;

function log(message: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function toKeyState(kv: Reply): KeyState {
  return {
    key: Buffer.from(kv.key).toString(),
    value: Buffer.from(kv.value).toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
}

/** Retry `fn` until it succeeds or `timeoutMs` passes (then rethrow its last error). */
const DEFAULT_NAMESPACE_KEY = registryKey('Namespace', undefined, 'default');
/** Where the masters keep join tokens (packages/master/src/nodes/tokens.ts). */
const TOKENS_PREFIX = '/bramble/tokens/';

async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${errorText(err)}`);
      await sleep(100);
    }
  }
}

async function run(o: ChaosOptions): Promise<number> {
  const startedAt = new Date();
  const reportDir = resolve(o.reportDir ?? join('.bramble', 'chaos', `${stamp(startedAt)}-seed${o.seed}`));
  const replayCmd = replayCommand(o);
  log(`seed ${o.seed}; replay with: ${replayCmd}`);
  const names = Array.from({ length: o.masters }, (_, i) => `m${i + 1}`);
  const plan = planFaults({ seed: o.seed, masters: o.masters, faults: o.faults, partitions: o.partitions, durationMs: o.durationMs, faultIntervalMs: o.faultIntervalMs });
  log(`${plan.length} faults planned over ${o.durationMs / 1000} s`);

  const mesh = await ProxyMesh.create(names);
  let cluster: ProcessCluster | undefined;
  let conns: Conns | undefined;
  const watches: ResumingWatch[] = [];
  let monitor: LeaderMonitor | undefined;
  const notes: string[] = [];
  let meshClosed = false;
  const cleanup = async (): Promise<void> => {
    monitor?.stop();
    for (const w of watches) w.close();
    conns?.close();
    await cluster?.destroy();
    if (!meshClosed) {
      meshClosed = true;
      await mesh.close();
    }
  };
  // Interrupted: kill exactly what this run started, then leave.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the cluster and exiting`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    cluster = await ProcessCluster.start({ masters: o.masters, peerAddressFor: mesh.peerAddressFor, keepDir: o.keep, logLevel: o.logLevel });
    log(`cluster up in ${cluster.dir}: ${[...cluster.members.values()].map((m) => `${m.name}=${m.listen}`).join(' ')}`);
    conns = new Conns(new Map([...cluster.members.values()].map((m) => [m.name, m.listen])));
    const c = conns;
    const leader = await cluster.waitForLeader();
    // The watch check counts on nothing but the workload writing after startRevision: first let
    // the leader's own start-up writes land (the default namespace, the bootstrap join token).
    await retry(
      'the leader\'s start-up writes',
      async () => {
        const count = async (key: string, rangeEnd?: Buffer): Promise<number> =>
          Number((await c.get(leader).kvCall('Range', { key: Buffer.from(key), ...(rangeEnd ? { range_end: rangeEnd } : {}), count_only: true }, 5000)).count ?? 0);
        const [namespaces, tokens] = await Promise.all([count(DEFAULT_NAMESPACE_KEY), count(TOKENS_PREFIX, prefixEnd(TOKENS_PREFIX))]);
        if (namespaces === 0 || tokens === 0) throw new Error(`default namespace ${namespaces > 0 ? 'stored' : 'missing'}, join tokens ${tokens}`);
      },
      15_000,
    );
    const startRevision = Number((await retry('initial read', () => c.get(leader).kvCall('Range', { key: Buffer.from(PREFIX), range_end: prefixEnd(PREFIX) }, 5000), 15_000)).header.revision);

    const origin = performance.now();
    const now = (): number => performance.now() - origin;
    const nemesis = new Nemesis({ cluster, mesh, conns, now, log });
    const keys = Array.from({ length: o.keys }, (_, i) => `${PREFIX}k${i}`);
    const workload = new Workload(
      { seed: o.seed, clients: o.clients, keys, members: names, rate: o.rate, opTimeoutMs: o.opTimeoutMs, readMode: o.readMode, readsTo: o.readsTo },
      { conns, now, incarnation: (m) => nemesis.incarnation.get(m) ?? 0, impaired: () => [...nemesis.impaired.keys()] },
    );
    names.forEach((m, i) => watches.push(new ResumingWatch(i + 1, m, names, c, PREFIX, startRevision + 1, now)));
    for (const w of watches) w.start();
    monitor = new LeaderMonitor(names, conns, now);
    monitor.start();

    log(`workload: ${o.clients} clients on ${o.keys} keys, ${o.rate || 'unlimited'} ops/s, ${o.readMode} gets${o.readsTo === 'impaired' ? ' sent to impaired members' : ''}; faults: ${o.faults.join(',') || 'none'}`);
    workload.start();
    await nemesis.run(plan, o.durationMs);
    await Promise.all([workload.stop(), nemesis.stop()]);
    const workloadEndMs = now();
    log(`workload stopped at ${(workloadEndMs / 1000).toFixed(1)} s; healing`);

    // Heal whatever is left: links pass, no process stopped, every member running.
    mesh.healAll();
    for (const name of names) {
      if (!cluster.running().includes(name)) {
        notes.push(`${name} was not running after the nemesis stopped; started it`);
        await cluster.restart(name);
      } else await cluster.kill(name, 'SIGCONT');
    }

    // Convergence: every member at the same applied index and revision, then the same hash.
    const hashAll = (): Promise<Array<HashReport | { member: string; error: string }>> =>
      Promise.all(
        names.map((m) =>
          c
            .get(m)
            .clusterCall('HashKV', {}, 5000)
            .then(
              (h): HashReport => ({ member: m, hash: String(h.hash), revision: Number(h.revision), appliedIndex: Number(h.applied_index), compactRevision: Number(h.compact_revision) }),
              (err) => ({ member: m, error: errorText(err) }),
            ),
        ),
      );
    let hashes = await hashAll();
    const settleDeadline = Date.now() + 60_000;
    const settled = (hs: typeof hashes): boolean =>
      hs.every((h) => !('error' in h)) && new Set(hs.map((h) => `${(h as HashReport).appliedIndex}/${(h as HashReport).revision}`)).size === 1;
    while (!settled(hashes) && Date.now() < settleDeadline) {
      await sleep(200);
      hashes = await hashAll();
    }
    if (!settled(hashes)) notes.push(`members did not reach the same applied index within 60 s of healing: ${JSON.stringify(hashes)}`);
    const convergence = checkConvergence(hashes);
    log(`convergence: ${convergence.ok ? 'ok' : 'FAILED'} (${convergence.detail})`);

    // Final reads: part of the history, so the checker explains them too.
    const finals = await workload.finalReads(names, 30_000);
    if (!finals.complete) notes.push('some final reads did not succeed within 30 s');
    const finalStates = new Map<string, KeyState[]>();
    for (const m of names) {
      try {
        const res = await retry(`final Range on ${m}`, () => c.get(m).kvCall('Range', { key: Buffer.from(PREFIX), range_end: prefixEnd(PREFIX) }, 5000), 15_000);
        finalStates.set(m, ((res.kvs ?? []) as Reply[]).map(toKeyState));
      } catch (err) {
        notes.push(errorText(err));
      }
    }
    // Nothing writes any more: the highest revision any member reports is the last one.
    const finalRevision = Math.max(startRevision, ...hashes.map((h) => ('error' in h ? 0 : h.revision)));

    // Watches: wait (bounded) for each to reach the final revision.
    const watchDeadline = Date.now() + 30_000;
    while (watches.some((w) => w.lastRevision < finalRevision) && Date.now() < watchDeadline) await sleep(100);
    for (const w of watches) w.close();
    monitor.stop();

    // The history's exact times, for the real-time checks.
    const ops = workload.history.operations();
    for (const op of ops) {
      const r = workload.records[op.id];
      r.callMs = op.call;
      if (op.status === 'ok') r.returnMs = op.return;
    }
    const records = workload.records;

    const watchCheck = checkWatches(
      watches.map((w) => ({ id: w.id, home: w.home, events: w.events, lastRevision: w.lastRevision, reconnects: w.reconnects.length - 1, problems: w.problems })),
      startRevision,
      finalRevision,
      records,
    );
    // The watched history against the store's own MVCC history (nothing is compacted).
    const spot = { checked: 0, mismatches: 0, examples: [] as string[] };
    const sample = sampleRevisions(startRevision, finalRevision, SPOT_CHECKS, o.seed);
    for (const [i, rev] of sample.entries()) {
      const m = names[i % names.length];
      try {
        const res = await retry(`Range at revision ${rev}`, () => c.get(m).kvCall('Range', { key: Buffer.from(PREFIX), range_end: prefixEnd(PREFIX), revision: rev }, 5000), 10_000);
        spot.checked++;
        const diff = sameState(replay(watchCheck.history, rev), ((res.kvs ?? []) as Reply[]).map(toKeyState));
        if (diff) {
          spot.mismatches++;
          if (spot.examples.length < 10) spot.examples.push(`revision ${rev} on ${m}: ${diff}`);
        }
      } catch (err) {
        spot.mismatches++;
        spot.examples.push(errorText(err));
      }
    }
    for (const [m, state] of finalStates) {
      const diff = sameState(replay(watchCheck.history, finalRevision), state);
      if (diff) {
        spot.mismatches++;
        spot.examples.push(`final state on ${m}: ${diff}`);
      }
    }
    const reference = finalStates.values().next().value ?? [];
    const lost = await checkAckedWrites(records, watchCheck.history, reference, keys, async (key, revision) => {
      const res = await retry(`Range ${key} at ${revision}`, () => c.get(names[0]).kvCall('Range', { key: Buffer.from(key), revision }, 5000), 10_000);
      const kv = (res.kvs as Reply[])[0];
      return kv ? toKeyState(kv) : undefined;
    });
    const revisions = checkRevisions(records);
    const faultCounts = nemesis.counts();
    const leaderChanges = monitor.leaderChanges();

    // Everything that needs the cluster is done: free the CPU for the checker.
    const clusterDir = cluster.dir;
    await cleanup();
    cluster = undefined;
    conns = undefined;

    log(`checking linearizability of ${ops.length} operations (budget ${o.checkTimeoutMs / 1000} s)`);
    const lin = checkOperations(kvModel, ops, { timeoutMs: o.checkTimeoutMs });
    const linearizable: Summary['linearizable'] = lin.result === 'ok' ? true : lin.result === 'illegal' ? false : 'unknown';
    const violation = lin.result === 'illegal' ? formatViolation(lin, kvModel) : undefined;
    log(`linearizability: ${lin.result} (${lin.partitions} partitions, ${Math.round(lin.elapsedMs)} ms)`);
    if (violation) process.stderr.write(`${violation}\n`);

    const counts = workload.history.counts();
    const watchOk = watchCheck.ok && spot.mismatches === 0;
    const unavailable = maxUnavailableMs(records, workloadEndMs);
    const summary: Summary = {
      duration_s: Math.round(workloadEndMs / 100) / 10,
      ops: records.length,
      ok: counts.ok,
      failed: counts.fail,
      unknown: counts.unknown + workload.history.pending(),
      faults: faultCounts,
      leader_changes: leaderChanges,
      max_unavailable_ms: unavailable.ms,
      linearizable,
      lost_acked: lost.lost,
      watch_ok: watchOk,
      converged: convergence.ok,
      revisions_ok: revisions.ok,
      crashes: nemesis.crashes.length,
      seed: o.seed,
      masters: o.masters,
      report: reportDir,
    };
    const pass = linearizable === true && lost.lost === 0 && watchOk && convergence.ok && revisions.ok && nemesis.crashes.length === 0;

    const { history: _history, ...watchSummary } = watchCheck;
    const report: ReportData = {
      summary,
      replay: replayCmd,
      options: o,
      startedAt: startedAt.toISOString(),
      ...(o.keep ? { clusterDir } : {}),
      startRevision,
      finalRevision,
      faults: nemesis.records,
      timeline: nemesis.events,
      leaders: monitor.epochs,
      terms: monitor.terms,
      latencyMs: latencyByType(records),
      unavailable,
      perSecond: perSecond(records, workloadEndMs),
      checks: {
        linearizability: { result: lin.result, partitions: lin.partitions, elapsedMs: Math.round(lin.elapsedMs), examples: [] },
        lostAcked: lost,
        watches: { ...watchSummary, spotChecks: spot.checked, spotMismatches: spot.mismatches, examples: [...watchCheck.examples, ...spot.examples] },
        revisions,
        convergence: { ...convergence, hashes, examples: convergence.ok ? [] : [convergence.detail] },
        crashes: { crashes: nemesis.crashes, examples: nemesis.crashes.map((c) => `${c.member} at ${(c.atMs / 1000).toFixed(2)} s (${c.exit}):\n${c.logTail}`) },
      },
      ...(violation ? { violation } : {}),
      proxies: mesh.stats(),
      notes,
    };
    mkdirSync(reportDir, { recursive: true });
    writeFileSync(join(reportDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(reportDir, 'report.md'), renderMarkdown(report));
    if (!pass || o.saveHistory) {
      writeFileSync(join(reportDir, 'history.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    }
    for (const [name, c] of Object.entries(report.checks)) {
      for (const e of (c as { examples?: string[] }).examples ?? []) log(`${name}: ${e}`);
    }
    for (const n of notes) log(`note: ${n}`);
    if (o.keep) log(`cluster directory kept: ${clusterDir}`);
    log(`report: ${reportDir}/report.md`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return pass ? 0 : 1;
  } finally {
    if (!interrupted) await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(): Promise<void> {
  let opts: ChaosOptions;
  try {
    opts = parseChaosArgs(process.argv.slice(2), () => randomInt(1, 2 ** 31));
  } catch (err) {
    if (err instanceof UsageError) {
      // --help is a UsageError without a message.
      if (err.message) process.stderr.write(`${err.message}\n`);
      process.stderr.write(`${USAGE}\n`);
      process.exit(err.message ? 2 : 0);
    }
    throw err;
  }
  const code = await run(opts);
  process.exit(code);
}

main().catch((err) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
