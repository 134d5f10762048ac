// Command-line options of scripts/chaos, parsed and checked in one place.
import { parseArgs } from 'node:util';

export const FAULT_KINDS = ['kill-leader', 'kill', 'pause', 'partition', 'restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Kinds of network fault behind `--faults partition`:
 * - isolate-leader: the leader is cut from every other member (both directions);
 * - isolate: a random member is cut from every other member;
 * - split: a minority (as large as possible) is cut from the majority;
 * - one-way: one directed link between the leader and a follower is cut, the other direction passes;
 * - flap: a random member is cut and reconnected every 0.2–0.8 s;
 * - slow: every link of a random member is delayed by 50–250 ms (each way).
 */
export const PARTITION_VARIANTS = ['isolate-leader', 'isolate', 'split', 'one-way', 'flap', 'slow'] as const;
export type PartitionVariant = (typeof PARTITION_VARIANTS)[number];

export type ReadMode = 'linearizable' | 'serializable';
/** Where gets go: any member, or (a test's teeth) a member the nemesis currently impairs. */
export type ReadTarget = 'any' | 'impaired';

export interface ChaosOptions {
  masters: 3 | 5;
  seed: number;
  durationMs: number;
  faults: FaultKind[];
  partitions: PartitionVariant[];
  /** Mean time between the starts of two faults. */
  faultIntervalMs: number;
  clients: number;
  keys: number;
  /** Target client operations per second, all clients together (0 = as fast as they go). */
  rate: number;
  /** Client deadline of one operation. */
  opTimeoutMs: number;
  readMode: ReadMode;
  readsTo: ReadTarget;
  /** Budget of the linearizability checker. */
  checkTimeoutMs: number;
  reportDir: string | undefined;
  keep: boolean;
  /** Write history.jsonl into the report directory even when every check passes. */
  saveHistory: boolean;
  logLevel: string;
}

export const USAGE = `usage: scripts/chaos [flags]
  --masters 3|5              masters to start (default 3)
  --seed N                   seed of every random choice: fault plan, targets, client operations (default: random, printed)
  --duration D               how long clients and the nemesis run: 90s, 2m, 30m, 1h (default 2m)
  --faults LIST              any of ${FAULT_KINDS.join(',')} (default: all); "none" for no faults
  --partitions LIST          partition variants: ${PARTITION_VARIANTS.join(',')} (default: all)
  --fault-interval S         mean seconds between fault starts (default 6)
  --clients N                concurrent clients (default 8)
  --keys N                   keys in the keyspace (default 6)
  --rate N                   client operations per second in total, 0 = unlimited (default 400)
  --op-timeout MS            client deadline per operation (default 2000)
  --read-mode M              linearizable | serializable gets (default linearizable)
  --reads-to T               any | impaired: send gets to a member the nemesis impairs, writes elsewhere (default any)
  --check-timeout S          linearizability checker budget in seconds (default 120)
  --report DIR               report directory (default .bramble/chaos/<timestamp>-seed<N>)
  --keep                     keep the cluster directory (data and master logs)
  --save-history             always write history.jsonl (it is written anyway when a check fails)
  --log-level L              masters' log level (default info)`;

export class UsageError extends Error {}

/** "90s", "2m", "30m", "1h", "1500ms" or a bare number of seconds, in milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: "${text}" is not a duration (use e.g. 90s, 2m, 30m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  if (ms <= 0) throw new UsageError(`${what}: must be positive (got ${text})`);
  return Math.round(ms);
}

function parseList<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  if (text.trim() === 'none') return [];
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${what}: unknown "${item}" (choose from ${allowed.join(', ')})`);
    }
  }
  return [...new Set(items)] as T[];
}

function int(text: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what}: must be an integer in [${min}, ${max}] (got ${text})`);
  return n;
}

export function parseChaosArgs(argv: string[], randomSeed: () => number): ChaosOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        masters: { type: 'string', default: '3' },
        seed: { type: 'string' },
        duration: { type: 'string', default: '2m' },
        faults: { type: 'string', default: FAULT_KINDS.join(',') },
        partitions: { type: 'string', default: PARTITION_VARIANTS.join(',') },
        'fault-interval': { type: 'string', default: '6' },
        clients: { type: 'string', default: '8' },
        keys: { type: 'string', default: '6' },
        rate: { type: 'string', default: '400' },
        'op-timeout': { type: 'string', default: '2000' },
        'read-mode': { type: 'string', default: 'linearizable' },
        'reads-to': { type: 'string', default: 'any' },
        'check-timeout': { type: 'string', default: '120' },
        report: { type: 'string' },
        keep: { type: 'boolean', default: false },
        'save-history': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('');
  const masters = int(String(values.masters), '--masters', 3, 5);
  if (masters !== 3 && masters !== 5) throw new UsageError(`--masters: must be 3 or 5 (got ${masters})`);
  const readMode = String(values['read-mode']);
  if (readMode !== 'linearizable' && readMode !== 'serializable') throw new UsageError(`--read-mode: linearizable or serializable (got ${readMode})`);
  const readsTo = String(values['reads-to']);
  if (readsTo !== 'any' && readsTo !== 'impaired') throw new UsageError(`--reads-to: any or impaired (got ${readsTo})`);
  const faultIntervalMs = parseDuration(String(values['fault-interval']), '--fault-interval');
  if (faultIntervalMs < 500) throw new UsageError(`--fault-interval: at least 0.5 s (got ${values['fault-interval']})`);
  const partitions = parseList(String(values.partitions), PARTITION_VARIANTS, '--partitions');
  const faults = parseList(String(values.faults), FAULT_KINDS, '--faults');
  if (faults.includes('partition') && partitions.length === 0) throw new UsageError('--partitions: at least one variant when --faults has partition');
  return {
    masters,
    seed: values.seed === undefined ? randomSeed() : int(String(values.seed), '--seed', 0, 2 ** 32 - 1),
    durationMs: parseDuration(String(values.duration), '--duration'),
    faults,
    partitions,
    faultIntervalMs,
    clients: int(String(values.clients), '--clients', 1, 256),
    keys: int(String(values.keys), '--keys', 1, 1000),
    rate: int(String(values.rate), '--rate', 0),
    opTimeoutMs: int(String(values['op-timeout']), '--op-timeout', 50, 600_000),
    readMode,
    readsTo,
    checkTimeoutMs: parseDuration(String(values['check-timeout']), '--check-timeout'),
    reportDir: values.report === undefined ? undefined : String(values.report),
    keep: Boolean(values.keep),
    saveHistory: Boolean(values['save-history']),
    logLevel: String(values['log-level']),
  };
}

/** The flags that reproduce a run (same fault plan, same client choices), for reports. */
export function replayCommand(o: ChaosOptions): string {
  const secs = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return [
    'scripts/chaos',
    `--masters ${o.masters}`,
    `--seed ${o.seed}`,
    `--duration ${secs(o.durationMs)}`,
    `--faults ${o.faults.length ? o.faults.join(',') : 'none'}`,
    `--partitions ${o.partitions.join(',')}`,
    `--fault-interval ${o.faultIntervalMs / 1000}`,
    `--clients ${o.clients}`,
    `--keys ${o.keys}`,
    `--rate ${o.rate}`,
    `--op-timeout ${o.opTimeoutMs}`,
    `--read-mode ${o.readMode}`,
    `--reads-to ${o.readsTo}`,
  ].join(' ');
}
