/** Settings of the process runtime, with the defaults the agent uses. */

/** The subset of a pino logger the runtime uses (a pino Logger fits). */
export interface RuntimeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ProcessRuntimeOptions {
  /** Pod logs live under `<dataDir>/pods/`, the state file is `<dataDir>/runtime-state.json`. */
  dataDir: string;
  /** The node's address: host ports are allocated on it and handed to pods as POD_IP. */
  nodeAddress: string;
  logger?: RuntimeLogger;
  /** Wall clock (ms since the epoch) for status timestamps and back-off resets. */
  now?: () => number;
  /** Delay before the first restart of a crashed container; doubles per consecutive crash. */
  crashBackoffBaseMs?: number;
  crashBackoffMaxMs?: number;
  /** A container that ran this long before exiting starts its back-off from the base again. */
  crashBackoffResetMs?: number;
  /** Copy-truncate a container's current.log once it is larger than this. */
  logMaxBytes?: number;
  /** Rotated files kept per container (current.log.1 .. current.log.N). */
  logMaxFiles?: number;
  /** How often log sizes are checked for rotation. */
  logCheckIntervalMs?: number;
  /** How often processes adopted by `recover()` (no longer our children) are checked for exit. */
  adoptedPollIntervalMs?: number;
  /** How often a terminating process group is checked for emptiness. */
  killPollIntervalMs?: number;
  /** Status-change notifications for one pod are coalesced over this window. */
  statusCoalesceMs?: number;
  /** Value of BRAMBLE_AGENT_DATA_DIR in every container (lets tooling find an agent's pods); default dataDir. */
  agentDataDir?: string;
  /** Environment the containers' PATH comes from; default process.env. */
  hostEnv?: NodeJS.ProcessEnv;
}

export interface ResolvedRuntimeOptions extends Required<Omit<ProcessRuntimeOptions, 'hostEnv'>> {
  hostEnv: NodeJS.ProcessEnv;
}

const silent: RuntimeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export function resolveOptions(o: ProcessRuntimeOptions): ResolvedRuntimeOptions {
  if (!o.dataDir) throw new Error('ProcessRuntime: dataDir is required');
  if (!o.nodeAddress) throw new Error('ProcessRuntime: nodeAddress is required');
  const r: ResolvedRuntimeOptions = {
    dataDir: o.dataDir,
    nodeAddress: o.nodeAddress,
    logger: o.logger ?? silent,
    now: o.now ?? Date.now,
    crashBackoffBaseMs: o.crashBackoffBaseMs ?? 1_000,
    crashBackoffMaxMs: o.crashBackoffMaxMs ?? 60_000,
    crashBackoffResetMs: o.crashBackoffResetMs ?? 10 * 60_000,
    logMaxBytes: o.logMaxBytes ?? 10 * 1024 * 1024,
    logMaxFiles: o.logMaxFiles ?? 2,
    logCheckIntervalMs: o.logCheckIntervalMs ?? 10_000,
    adoptedPollIntervalMs: o.adoptedPollIntervalMs ?? 1_000,
    killPollIntervalMs: o.killPollIntervalMs ?? 50,
    statusCoalesceMs: o.statusCoalesceMs ?? 10,
    agentDataDir: o.agentDataDir ?? o.dataDir,
    hostEnv: o.hostEnv ?? process.env,
  };
  for (const key of ['crashBackoffBaseMs', 'crashBackoffMaxMs', 'crashBackoffResetMs', 'logMaxBytes', 'logCheckIntervalMs', 'adoptedPollIntervalMs', 'killPollIntervalMs'] as const) {
    const v = r[key];
    if (!Number.isFinite(v) || v <= 0) throw new Error(`ProcessRuntime: ${key} must be a positive number (got ${v})`);
  }
  if (!Number.isInteger(r.logMaxFiles) || r.logMaxFiles < 0) throw new Error(`ProcessRuntime: logMaxFiles must be an integer >= 0 (got ${r.logMaxFiles})`);
  if (r.crashBackoffMaxMs < r.crashBackoffBaseMs) {
    throw new Error(`ProcessRuntime: crashBackoffMaxMs (${r.crashBackoffMaxMs}) must be >= crashBackoffBaseMs (${r.crashBackoffBaseMs})`);
  }
  return r;
}
