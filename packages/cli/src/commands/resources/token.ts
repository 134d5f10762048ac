// `token create | list | delete`: join tokens for agents (like kubeadm token).
import { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../errors.js';
import { parseDurationMs } from '../../duration.js';
import { formatTable } from '../../output.js';
import { humanDuration } from '../../printers/age.js';
import { tokensOf } from './common.js';

const TOKEN_ID = /^[a-z0-9]{6}$/;
const FULL_TOKEN = /^([a-z0-9]{6})\.[a-z0-9]{16}$/;

/** --ttl: a duration in whole seconds (`24h`, `90m`); 0 = never expires. */
function ttlArg(v: string): number {
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < 0 || ms % 1000 !== 0) throw new UsageError(`--ttl: expected a duration like 24h, 30m or 0 (never expires), got ${JSON.stringify(v)}`);
  return ms / 1000;
}

/** TTL column: time left (`23h`), `<forever>`, or `<invalid>` once expired. */
function ttlCell(expires: string, nowMs: number): string {
  if (!expires) return '<forever>';
  const t = Date.parse(expires);
  if (Number.isNaN(t)) return '<unknown>';
  return t <= nowMs ? '<invalid>' : humanDuration(t - nowMs);
}

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('join tokens that let agents register their node (like kubeadm token)');

  token
    .command('create')
    .description('create a join token and print it (it is shown only once)')
    .option('--ttl <duration>', 'how long the token is valid (0 = never expires)', ttlArg, 24 * 3600)
    .option('--description <text>', 'what the token is for')
    .action(async (flags: { ttl: number; description?: string }, c: Command) => {
      const r = await ctx.withClient(c, (client) => tokensOf(client).create({ ttlSeconds: flags.ttl, ...(flags.description !== undefined ? { description: flags.description } : {}) }));
      ctx.print(c, { token: r.token, ...r.info }, () => `${r.token}\n`);
    });

  token
    .command('list')
    .alias('ls')
    .description('list join tokens (their ids; secrets are never stored)')
    .action(async (_flags: object, c: Command) => {
      const tokens = await ctx.withClient(c, (client) => tokensOf(client).list());
      const now = Date.now();
      if (tokens.length === 0 && ['table', 'wide'].includes(ctx.globals(c).output)) {
        ctx.err('No join tokens found.\n');
        return;
      }
      ctx.print(c, tokens, () =>
        formatTable(
          ['ID', 'TTL', 'EXPIRES', 'CREATED', 'DESCRIPTION'],
          tokens.map((t) => [t.id, ttlCell(t.expires, now), t.expires || '<never>', t.created, t.description || '<none>']),
        ),
      );
    });

  token
    .command('delete')
    .alias('rm')
    .description('delete join tokens by id (or whole token); agents already joined keep working')
    .argument('<id...>')
    .action(async (ids: string[], _flags: object, c: Command) => {
      const parsed = ids.map((raw) => {
        const full = FULL_TOKEN.exec(raw);
        const id = full ? full[1] : raw;
        if (!TOKEN_ID.test(id)) throw new UsageError(`token delete: ${JSON.stringify(raw)} is not a token id ([a-z0-9]{6}) or token (<id>.<secret>)`);
        return id;
      });
      await ctx.withClient(c, async (client) => {
        for (const id of parsed) {
          await tokensOf(client).delete(id);
          ctx.out(`bootstrap token ${JSON.stringify(id)} deleted\n`);
        }
      });
    });
}
