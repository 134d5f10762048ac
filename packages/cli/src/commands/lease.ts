// bramble lease grant | revoke | timetolive | keep-alive
import type { Command } from 'commander';
import type { LeaseKeepAliveResult } from '@bramble/client';
import type { CliContext } from '../context.js';
import { displayBytes, formatTable, headerView, toJsonLine, toYaml } from '../output.js';
import { leaseIdArg, ttlSecondsArg } from './args.js';

export function registerLeaseCommands(program: Command, ctx: CliContext): void {
  const lease = program.command('lease').description('grant, renew and revoke leases (keys attached to a lease vanish with it)');

  lease
    .command('grant')
    .description('grant a lease of TTL seconds')
    .argument('<ttl>', 'seconds, or a duration like 2m', ttlSecondsArg)
    .action(async (ttl: number, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.leaseGrant(ttl));
      ctx.print(cmd, { header: headerView(r.header), id: r.id, ttl: r.ttl }, () => `lease ${r.id} granted with TTL(${r.ttl}s)\n`);
    });

  lease
    .command('revoke')
    .description('revoke a lease, deleting every key attached to it')
    .argument('<id>', 'lease ID', leaseIdArg)
    .action(async (id: number, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.leaseRevoke(id));
      ctx.print(cmd, { header: headerView(r.header), id }, () => `lease ${id} revoked\n`);
    });

  lease
    .command('timetolive')
    .description('remaining and granted TTL of a lease')
    .argument('<id>', 'lease ID', leaseIdArg)
    .option('--keys', 'also list the keys attached to it')
    .action(async (id: number, o: { keys?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.leaseTimeToLive(id, { keys: o.keys ?? false }));
      const keys = r.keys.map(displayBytes);
      const view = { header: headerView(r.header), id: r.id, ttl: r.ttl, grantedTtl: r.grantedTtl, ...(o.keys ? { keys } : {}) };
      ctx.print(cmd, view, () => {
        const remaining = r.ttl < 0 ? 'expired' : `${r.ttl}s`;
        const row = [String(r.id), remaining, r.ttl < 0 ? '' : `${r.grantedTtl}s`];
        return o.keys ? formatTable(['ID', 'TTL', 'GRANTED-TTL', 'KEYS'], [[...row, keys.join(',')]]) : formatTable(['ID', 'TTL', 'GRANTED-TTL'], [row]);
      });
    });

  lease
    .command('keep-alive')
    .alias('keepalive')
    .description('keep renewing a lease until Ctrl-C')
    .argument('<id>', 'lease ID', leaseIdArg)
    .action(async (id: number, _o: object, cmd: Command) => {
      const format = ctx.globals(cmd).output;
      const onKeepAlive = (r: LeaseKeepAliveResult): void => {
        const view = { header: headerView(r.header), id: r.id, ttl: r.ttl };
        if (format === 'json') ctx.out(toJsonLine(view));
        else if (format === 'yaml') ctx.out(`---\n${toYaml(view)}`);
        else ctx.out(`lease ${r.id} keepalived with TTL(${r.ttl})\n`);
      };
      await ctx.withClient(cmd, async (c) => {
        const k = c.leaseKeepAlive(id, { onKeepAlive });
        const off = ctx.environment.onInterrupt(() => k.cancel());
        try {
          await k.closed;
        } finally {
          off();
        }
      });
    });
}
