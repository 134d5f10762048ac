import { Option, type Command } from 'commander';
import type { Level } from 'pino';
import { formatDurationMs, parseDurationMs } from '../duration.js';
import { exitOnStopSignals } from './stop-signals.js';

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: must be a positive integer (got "${value}")`);
    return n;
  };
}

function duration(flag: string) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms <= 0) throw new Error(`${flag}: must be a positive duration like 4s or 500ms (got "${value}")`);
    return ms;
  };
}

/**
 * The flag defaults shown in `--help`. A copy of @bramble/master's DEFAULT_MASTER_OPTIONS
 * (test/lazy-load.test.ts checks they agree): importing the package for them would load the
 * master's Raft, LevelDB and controller code into every `bramble` process, agents included.
 */
export const MASTER_FLAG_DEFAULTS = {
  clusterId: 'bramble',
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEntries: 10_000,
  snapshotCatchUpEntries: 5_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
  logLevel: 'info' as Level,
  nodeGraceMs: 4000,
  podEvictionTimeoutMs: 5000,
};

/** `bramble master`: run one master process (Raft member + KV + cluster API). */
export function registerMasterCommand(program: Command): void {
  program
    .command('master')
    .description('run a master: a Raft member serving the key-value and cluster APIs')
    .requiredOption('--name <name>', 'this member\'s name, e.g. m1')
    .requiredOption('--listen <host:port>', 'gRPC address for peers and clients')
    .requiredOption('--data-dir <dir>', 'where the Raft log, snapshots and state live')
    .option('--peers <list>', 'initial members: m1=host:port,m2=host:port,... (including this one)', '')
    .option('--join <endpoints>', 'join a running cluster through these masters (host:port,...) instead of bootstrapping', '')
    .option('--http <host:port>', 'serve /healthz, /readyz and /metrics here', '')
    .option('--peer-dial <list>', 'dial members at other addresses than they advertise: m2=host:port,... (NAT, tunnels, test proxies)', '')
    .option('--cluster-id <id>', 'refuse peers of another cluster', MASTER_FLAG_DEFAULTS.clusterId)
    .option('--tick-ms <ms>', 'Raft tick interval', positiveInt('--tick-ms'), MASTER_FLAG_DEFAULTS.tickMs)
    .option('--election-ticks <n>', 'ticks without a leader before an election', positiveInt('--election-ticks'), MASTER_FLAG_DEFAULTS.electionTicks)
    .option('--heartbeat-ticks <n>', 'ticks between leader heartbeats', positiveInt('--heartbeat-ticks'), MASTER_FLAG_DEFAULTS.heartbeatTicks)
    .option('--snapshot-entries <n>', 'snapshot and compact every this many applied entries', positiveInt('--snapshot-entries'), MASTER_FLAG_DEFAULTS.snapshotEntries)
    .option('--snapshot-catch-up-entries <n>', 'entries kept after a snapshot for lagging followers', positiveInt('--snapshot-catch-up-entries'), MASTER_FLAG_DEFAULTS.snapshotCatchUpEntries)
    .option('--max-request-bytes <n>', 'largest client request accepted', positiveInt('--max-request-bytes'), MASTER_FLAG_DEFAULTS.maxRequestBytes)
    .option('--log-level <level>', 'trace|debug|info|warn|error', MASTER_FLAG_DEFAULTS.logLevel)
    .option('--join-token <token>', 'join token agents present (<id>.<secret>, like k3s --token); default: the first leader generates one into <data-dir>/join-token')
    .addOption(
      new Option('--node-grace <duration>', 'a node not heard from this long becomes NotReady')
        .argParser(duration('--node-grace'))
        .default(MASTER_FLAG_DEFAULTS.nodeGraceMs, formatDurationMs(MASTER_FLAG_DEFAULTS.nodeGraceMs)),
    )
    .addOption(
      new Option('--pod-eviction-timeout <duration>', 'pods of a NotReady node are deleted this long after it became NotReady')
        .argParser(duration('--pod-eviction-timeout'))
        .default(MASTER_FLAG_DEFAULTS.podEvictionTimeoutMs, formatDurationMs(MASTER_FLAG_DEFAULTS.podEvictionTimeoutMs)),
    )
    .action(async (o) => {
      // Loaded here, so other commands (the agent above all) do not pay for the master's modules.
      const { parsePeers, startMaster } = await import('@bramble/master');
      const master = await startMaster({
        name: o.name,
        listen: o.listen,
        dataDir: o.dataDir,
        peers: o.peers ? parsePeers(o.peers) : {},
        join: o.join ? String(o.join).split(',').map((s: string) => s.trim()).filter(Boolean) : [],
        http: o.http,
        peerDial: o.peerDial ? parsePeers(o.peerDial) : {},
        clusterId: o.clusterId,
        tickMs: o.tickMs,
        electionTicks: o.electionTicks,
        heartbeatTicks: o.heartbeatTicks,
        snapshotEntries: o.snapshotEntries,
        snapshotCatchUpEntries: o.snapshotCatchUpEntries,
        maxRequestBytes: o.maxRequestBytes,
        logLevel: o.logLevel as Level,
        joinToken: o.joinToken ?? '',
        nodeGraceMs: o.nodeGrace,
        podEvictionTimeoutMs: o.podEvictionTimeout,
      });
      exitOnStopSignals(() => master.stop());
      const reason = await master.done;
      process.stderr.write(`master ${master.name} stopped: ${reason}\n`);
      process.exit(reason.startsWith('fatal') ? 1 : 0);
    });
}
