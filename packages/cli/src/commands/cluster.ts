// bramble cluster status | members | member add|remove|promote | transfer-leader
import type { Command } from 'commander';
import type { EndpointStatus, Member } from '@bramble/client';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatTable } from '../output.js';

export const STATUS_HEADERS = ['ENDPOINT', 'MEMBER', 'ROLE', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'REVISION', 'ERRORS'];
export const MEMBER_HEADERS = ['NAME', 'ADDRESS', 'HTTP', 'ROLE', 'IS-LEADER'];

/** Like `etcdctl endpoint status -w table`: one row per endpoint, failures in ERRORS. */
export function statusTable(all: EndpointStatus[]): string {
  const rows = all.map(({ endpoint, status, error }) => {
    if (!status) return [endpoint, '', '', '', '', '', '', '', shortError(error)];
    return [
      endpoint,
      status.member,
      status.role,
      status.leader || '<none>',
      String(status.term),
      String(status.commitIndex),
      String(status.appliedIndex),
      String(status.revision),
      status.errors.join('; '),
    ];
  });
  return formatTable(STATUS_HEADERS, rows);
}

/** "UNAVAILABLE: no connection: connect ECONNREFUSED ..." without the operation prefix. */
function shortError(err: Error | undefined): string {
  if (!err) return '';
  const e = err as Error & { code?: string; details?: string };
  return e.code && e.details ? `${e.code}: ${e.details}` : err.message;
}

export function membersTable(members: Member[], leader: string): string {
  const rows = members.map((m) => [m.name, m.address, m.httpAddress || '<none>', m.isLearner ? 'learner' : 'voter', String(m.name === leader)]);
  return formatTable(MEMBER_HEADERS, rows);
}

export function registerClusterCommands(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('masters: status, membership, leadership');

  cluster
    .command('status')
    .description('status of every master endpoint (like etcdctl endpoint status)')
    .action(async (_o: object, cmd: Command) => {
      const all = await ctx.withClient(cmd, (c) => c.statusAll());
      const view = all.map(({ endpoint, status, error }) => ({ endpoint, ...(status ? { status } : {}), ...(error ? { error: error.message } : {}) }));
      ctx.print(cmd, view, () => statusTable(all));
      const failed = all.filter((s) => s.error);
      if (failed.length > 0) {
        throw new CliError(`cluster status: ${failed.length} of ${all.length} endpoints did not answer (${failed.map((f) => f.endpoint).join(', ')})`);
      }
    });

  cluster
    .command('members')
    .description('list the masters of the cluster')
    .option('--serializable', 'answer from the contacted master without asking the leader (works without a leader)')
    .action(async (o: { serializable?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.memberList({ linearizable: !o.serializable }));
      ctx.print(cmd, r, () => membersTable(r.members, r.leader));
    });

  const member = cluster.command('member').description('add, remove or promote a master');

  member
    .command('add')
    .description('add a master; it joins as a learner and is promoted to voter once caught up (unless --learner)')
    .argument('<name>')
    .requiredOption('--address <host:port>', "the new master's gRPC address")
    .option('--http <host:port>', "the new master's HTTP address (/healthz, /metrics)", '')
    .option('--learner', 'stay a learner until "bramble cluster member promote"')
    .action(async (name: string, o: { address: string; http: string; learner?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.memberAdd(name, o.address, o.http, { stayLearner: o.learner ?? false }));
      ctx.print(cmd, r, () =>
        o.learner
          ? `member ${JSON.stringify(name)} added as a learner at ${o.address}; it stays a learner until "bramble cluster member promote ${name}"\n`
          : `member ${JSON.stringify(name)} added as a learner at ${o.address}; the leader promotes it to voter once it has caught up\n`,
      );
    });

  member
    .command('remove')
    .description('remove a master from the cluster')
    .argument('<name>')
    .action(async (name: string, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.memberRemove(name));
      ctx.print(cmd, r, () => `member ${JSON.stringify(name)} removed\n`);
    });

  member
    .command('promote')
    .description('promote a learner to voter')
    .argument('<name>')
    .action(async (name: string, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.memberPromote(name));
      ctx.print(cmd, r, () => `member ${JSON.stringify(name)} promoted to voter\n`);
    });

  cluster
    .command('transfer-leader')
    .description('hand leadership to NAME (default: the most up-to-date other voter)')
    .argument('[name]')
    .action(async (name: string | undefined, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.transferLeader(name ?? ''));
      ctx.print(cmd, r, () => `leadership transferred to ${JSON.stringify(r.leader)} (term ${r.term})\n`);
    });
}
