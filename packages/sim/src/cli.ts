#!/usr/bin/env node
// scripts/sim: run seeds of the deterministic cluster simulator and report.
// stdout: exactly one JSON line (the summary). stderr: progress, violations with
// replay commands and trace tails, and (with --trace) full traces.

import { DEFAULT_STEPS, runSeeds, type SeedResult } from './sim.js';

interface CliOptions {
  seeds: number;
  start: number;
  /** undefined: odd seeds run 3 nodes, even seeds 5. */
  nodes: 3 | 5 | undefined;
  steps: number;
  trace: boolean;
  requireSettled: boolean;
}

const USAGE = `usage: scripts/sim [--seeds N] [--start S] [--nodes 3|5] [--steps K] [--trace] [--require-settled]
  --seeds N           how many seeds to run (default 100)
  --start S           first seed (default 1)
  --nodes 3|5         initial voters; default: odd seeds 3, even seeds 5
  --steps K           scheduler steps per seed (default ${DEFAULT_STEPS})
  --trace             print every seed's full trace to stderr
  --require-settled   also exit 1 when a seed's cluster did not converge after the final heal (liveness)`;

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function intFlag(name: string, value: string | undefined, min: number): number {
  if (value === undefined) usageError(`${name}: needs a value`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) usageError(`${name}: must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  return n;
}

function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { seeds: 100, start: 1, nodes: undefined, steps: DEFAULT_STEPS, trace: false, requireSettled: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--seeds':
        opts.seeds = intFlag(arg, argv[++i], 1);
        break;
      case '--start':
        opts.start = intFlag(arg, argv[++i], 0);
        break;
      case '--nodes': {
        const n = intFlag(arg, argv[++i], 1);
        if (n !== 3 && n !== 5) usageError(`--nodes: must be 3 or 5 (got ${n})`);
        opts.nodes = n;
        break;
      }
      case '--steps':
        opts.steps = intFlag(arg, argv[++i], 1);
        break;
      case '--trace':
        opts.trace = true;
        break;
      case '--require-settled':
        opts.requireSettled = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        usageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return opts;
}

function replayCommand(r: SeedResult, opts: CliOptions): string {
  return `scripts/sim --seeds 1 --start ${r.seed} --nodes ${r.nodes} --steps ${opts.steps} --trace`;
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const err = process.stderr;
  const started = performance.now();
  const summary = runSeeds({
    seeds: opts.seeds,
    start: opts.start,
    nodes: opts.nodes,
    steps: opts.steps,
    trace: opts.trace,
    onResult: (r) => {
      if (opts.trace && r.trace !== undefined) {
        err.write(`--- trace of seed ${r.seed} (${r.nodes} nodes, ${opts.steps} steps) ---\n${r.trace.join('\n')}\n`);
      }
      if (r.violations.length > 0) {
        const v = r.violations[0];
        err.write(`\nVIOLATION seed=${r.seed} nodes=${r.nodes}: ${v.kind} at step ${v.step} t=${v.time}${v.node !== undefined ? ` on ${v.node}` : ''}\n`);
        err.write(`${v.detail}\n`);
        err.write(`replay: ${replayCommand(r, opts)}\n`);
        if (!opts.trace && r.trace !== undefined) err.write(`last ${r.trace.length} trace lines:\n${r.trace.join('\n')}\n`);
      } else if (r.linearizable === 'unknown') {
        err.write(`seed ${r.seed}: linearizability check ran out of time (not a violation); replay: ${replayCommand(r, opts)}\n`);
      }
      if (!r.settled && r.violations.length === 0) {
        err.write(`seed ${r.seed}: cluster did not converge after the final heal (liveness); replay: ${replayCommand(r, opts)}\n`);
      }
    },
  });
  const elapsedMs = performance.now() - started;
  err.write(`ran ${summary.seeds} seeds in ${(elapsedMs / 1000).toFixed(1)} s (${(elapsedMs / summary.seeds).toFixed(1)} ms/seed)\n`);
  const { failed, results: _results, ...totals } = summary;
  process.stdout.write(`${JSON.stringify({ ...totals, failedSeeds: failed.map((r) => r.seed) })}\n`);
  process.exitCode = summary.violations > 0 || (opts.requireSettled && summary.unsettled > 0) ? 1 : 0;
}

main();
