import { Option, type Command } from 'commander';
import { DEFAULT_MASTER_OPTIONS, parsePeers, startMaster } from '@bramble/master';
import type { Level } from 'pino';
import { formatDurationMs, parseDurationMs } from '../duration.js';

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
    .option('--cluster-id <id>', 'refuse peers of another cluster', DEFAULT_MASTER_OPTIONS.clusterId)
    .option('--tick-ms <ms>', 'Raft tick interval', positiveInt('--tick-ms'), DEFAULT_MASTER_OPTIONS.tickMs)
    .option('--election-ticks <n>', 'ticks without a leader before an election', positiveInt('--election-ticks'), DEFAULT_MASTER_OPTIONS.electionTicks)
    .option('--heartbeat-ticks <n>', 'ticks between leader heartbeats', positiveInt('--heartbeat-ticks'), DEFAULT_MASTER_OPTIONS.heartbeatTicks)
    .option('--snapshot-entries <n>', 'snapshot and compact every this many applied entries', positiveInt('--snapshot-entries'), DEFAULT_MASTER_OPTIONS.snapshotEntries)
    .option('--snapshot-catch-up-entries <n>', 'entries kept after a snapshot for lagging followers', positiveInt('--snapshot-catch-up-entries'), DEFAULT_MASTER_OPTIONS.snapshotCatchUpEntries)
    .option('--max-request-bytes <n>', 'largest client request accepted', positiveInt('--max-request-bytes'), DEFAULT_MASTER_OPTIONS.maxRequestBytes)
    .option('--log-level <level>', 'trace|debug|info|warn|error', DEFAULT_MASTER_OPTIONS.logLevel)
    .option('--join-token <token>', 'join token agents present (<id>.<secret>, like k3s --token); default: the first leader generates one into <data-dir>/join-token')
    .addOption(
      new Option('--node-grace <duration>', 'a node not heard from this long becomes NotReady')
        .argParser(duration('--node-grace'))
        .default(DEFAULT_MASTER_OPTIONS.nodeGraceMs, formatDurationMs(DEFAULT_MASTER_OPTIONS.nodeGraceMs)),
    )
    .addOption(
      new Option('--pod-eviction-timeout <duration>', 'pods of a NotReady node are deleted this long after it became NotReady')
        .argParser(duration('--pod-eviction-timeout'))
        .default(DEFAULT_MASTER_OPTIONS.podEvictionTimeoutMs, formatDurationMs(DEFAULT_MASTER_OPTIONS.podEvictionTimeoutMs)),
    )
    .action(async (o) => {
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
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (signalled) process.exit(1); // a second signal: stop now
        signalled = true;
        master.stop().then(
          () => process.exit(0),
          (err: Error) => {
            process.stderr.write(`error: stopping after ${signal}: ${err.message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const reason = await master.done;
      process.stderr.write(`master ${master.name} stopped: ${reason}\n`);
      process.exit(reason.startsWith('fatal') ? 1 : 0);
    });
}
