// bramble kv put | get | del | watch | txn | compact
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { DeleteResult, KeyValue, OpResult, PutResult, RangeResult, TxnResult, WatchEvent } from '@bramble/client';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { cell, columnWidths, displayBytes, formatRow, formatTable, headerView, kvView, leaseCell, toJsonLine, toYaml } from '../output.js';
import { parseTxn, TxnParseError } from '../txn-parser.js';
import { leaseIdArg, nonNegativeIntArg, positiveIntArg } from './args.js';

const KV_HEADERS = ['KEY', 'VALUE', 'CREATE-REV', 'MOD-REV', 'VERSION', 'LEASE'];
const KEYS_ONLY_HEADERS = ['KEY', 'CREATE-REV', 'MOD-REV', 'VERSION', 'LEASE'];

export function kvTable(kvs: KeyValue[], opts: { keysOnly?: boolean } = {}): string {
  const rows = kvs.map((kv) => {
    const meta = [String(kv.createRevision), String(kv.modRevision), String(kv.version), leaseCell(kv.lease)];
    return opts.keysOnly ? [displayBytes(kv.key), ...meta] : [displayBytes(kv.key), displayBytes(kv.value), ...meta];
  });
  return formatTable(opts.keysOnly ? KEYS_ONLY_HEADERS : KV_HEADERS, rows);
}

export function rangeView(r: RangeResult, opts: { keysOnly?: boolean } = {}): object {
  return { header: headerView(r.header), kvs: r.kvs.map((kv) => kvView(kv, opts)), more: r.more, count: r.count };
}

export function putView(r: PutResult): object {
  return { header: headerView(r.header), ...(r.prevKv ? { prevKv: kvView(r.prevKv) } : {}) };
}

export function deleteView(r: DeleteResult): object {
  return { header: headerView(r.header), deleted: r.deleted, prevKvs: r.prevKvs.map((kv) => kvView(kv)) };
}

function opResultView(r: OpResult): object {
  switch (r.type) {
    case 'get':
      return { get: rangeView(r.range) };
    case 'put':
      return { put: putView(r.put) };
    case 'delete':
      return { delete: deleteView(r.delete) };
    default:
      return { txn: txnView(r.txn) };
  }
}

export function txnView(r: TxnResult): object {
  return { header: headerView(r.header), succeeded: r.succeeded, responses: r.responses.map(opResultView) };
}

export function eventView(e: WatchEvent): object {
  return { type: e.type, kv: kvView(e.kv, { keysOnly: e.type === 'DELETE' }), ...(e.prevKv ? { prevKv: kvView(e.prevKv) } : {}) };
}

function deletedText(n: number): string {
  return `${n} key${n === 1 ? '' : 's'} deleted\n`;
}

function txnText(r: TxnResult): string {
  let out = r.succeeded ? 'SUCCESS\n' : 'FAILURE\n';
  for (const op of r.responses) {
    out += '\n';
    switch (op.type) {
      case 'put':
        out += 'OK\n';
        break;
      case 'get':
        out += op.range.kvs.length > 0 ? kvTable(op.range.kvs) : `no keys (count ${op.range.count})\n`;
        break;
      case 'delete':
        out += deletedText(op.delete.deleted);
        break;
      default:
        out += txnText(op.txn);
    }
  }
  return out;
}

export function registerKvCommands(program: Command, ctx: CliContext): void {
  const kv = program.command('kv').description('read and write keys in the replicated store (like etcdctl)');

  kv.command('put')
    .description('set KEY to VALUE')
    .argument('<key>')
    .argument('<value>')
    .option('--lease <id>', 'attach the key to a lease (see "bramble lease grant")', leaseIdArg)
    .option('--prev-kv', 'print the previous key-value')
    .action(async (key: string, value: string, o: { lease?: number; prevKv?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.put(key, value, { ...(o.lease !== undefined ? { lease: o.lease } : {}), prevKv: o.prevKv ?? false }));
      ctx.print(cmd, putView(r), () => 'OK\n' + (r.prevKv ? kvTable([r.prevKv]) : ''));
    });

  kv.command('get')
    .description('read KEY (or every key with --prefix)')
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .option('--limit <n>', 'at most N keys', nonNegativeIntArg)
    .option('--rev <revision>', 'read at this revision (0 = latest)', nonNegativeIntArg)
    .option('--serializable', 'answer from the contacted master, possibly stale (default: linearizable)')
    .option('--keys-only', 'keys without values')
    .option('--count-only', 'only the number of keys')
    .action(async (key: string, o: { prefix?: boolean; limit?: number; rev?: number; serializable?: boolean; keysOnly?: boolean; countOnly?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) =>
        c.get(key, {
          prefix: o.prefix ?? false,
          limit: o.limit ?? 0,
          revision: o.rev ?? 0,
          serializable: o.serializable ?? false,
          keysOnly: o.keysOnly ?? false,
          countOnly: o.countOnly ?? false,
        }),
      );
      if (o.countOnly) {
        ctx.print(cmd, rangeView(r), () => formatTable(['COUNT'], [[String(r.count)]]));
        return;
      }
      if (r.kvs.length === 0 && ctx.globals(cmd).output === 'table') {
        ctx.err('No keys found.\n');
        return;
      }
      ctx.print(cmd, rangeView(r, { keysOnly: o.keysOnly ?? false }), () => kvTable(r.kvs, { keysOnly: o.keysOnly ?? false }));
      if (r.more && ctx.globals(cmd).output === 'table') ctx.err(`(${r.count - r.kvs.length} more of ${r.count} keys not shown; raise --limit)\n`);
    });

  kv.command('del')
    .alias('delete')
    .description('delete KEY (or every key with --prefix)')
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .option('--prev-kv', 'print the deleted key-values')
    .action(async (key: string, o: { prefix?: boolean; prevKv?: boolean }, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.delete(key, { prefix: o.prefix ?? false, prevKv: o.prevKv ?? false }));
      ctx.print(cmd, deleteView(r), () => deletedText(r.deleted) + (r.prevKvs.length > 0 ? kvTable(r.prevKvs) : ''));
    });

  kv.command('watch')
    .description('print changes to KEY (or a prefix) as they happen, until Ctrl-C')
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .option('--rev <revision>', 'start at this revision, replaying history (0 = from now)', nonNegativeIntArg)
    .option('--prev-kv', 'include the previous value of each changed key')
    .action(async (key: string, o: { prefix?: boolean; rev?: number; prevKv?: boolean }, cmd: Command) => {
      const format = ctx.globals(cmd).output;
      const headers = o.prevKv ? ['TYPE', 'KEY', 'VALUE', 'REVISION', 'PREV-VALUE'] : ['TYPE', 'KEY', 'VALUE', 'REVISION'];
      let printedHeader = false;
      const onEvents = (events: WatchEvent[]): void => {
        if (format === 'json') {
          for (const e of events) ctx.out(toJsonLine(eventView(e)));
          return;
        }
        if (format === 'yaml') {
          for (const e of events) ctx.out(`---\n${toYaml(eventView(e))}`);
          return;
        }
        const rows = events.map((e) => {
          const row = [e.type, displayBytes(e.kv.key), e.type === 'DELETE' ? '' : displayBytes(e.kv.value), String(e.kv.modRevision)];
          if (o.prevKv) row.push(e.prevKv ? displayBytes(e.prevKv.value) : '');
          return row.map(cell);
        });
        const widths = columnWidths(headers, rows);
        if (!printedHeader) {
          ctx.out(formatRow(headers, widths) + '\n');
          printedHeader = true;
        }
        for (const r of rows) ctx.out(formatRow(r, widths) + '\n');
      };
      await ctx.withClient(cmd, async (c) => {
        const w = c.watch(key, { prefix: o.prefix ?? false, startRevision: o.rev ?? 0, prevKv: o.prevKv ?? false }, onEvents);
        const off = ctx.environment.onInterrupt(() => w.cancel());
        try {
          await w.closed;
        } finally {
          off();
        }
      });
    });

  kv.command('txn')
    .description('run a transaction read in etcdctl\'s format from stdin or --file: comparisons, blank line, success ops, blank line, failure ops')
    .option('-f, --file <path>', 'read the transaction from this file instead of stdin')
    .addHelpText(
      'after',
      `
Example (stdin):
  mod("config") > "0"
  value("owner") = "me"

  put config "new"
  get config

  put owner "me"

Comparisons: version|create|mod|value|lease("KEY") =|!=|<|> VALUE (version("k") = "0": k does not exist).
Operations: put KEY VALUE [--lease=ID] [--prev-kv] | get KEY [--prefix] [--limit=N] [--rev=N] [--keys-only] [--count-only] | del KEY [--prefix] [--prev-kv]`,
    )
    .action(async (o: { file?: string }, cmd: Command) => {
      const source = o.file ? `file ${JSON.stringify(o.file)}` : 'stdin';
      let text: string;
      try {
        text = o.file ? await readFile(o.file, 'utf8') : await ctx.readStdin();
      } catch (err) {
        throw new CliError(`read txn from ${source}: ${(err as Error).message}`);
      }
      let spec;
      try {
        spec = parseTxn(text);
      } catch (err) {
        if (err instanceof TxnParseError) throw new CliError(`parse txn from ${source}: ${err.message}`);
        throw err;
      }
      const r = await ctx.withClient(cmd, (c) => c.txn(spec));
      ctx.print(cmd, txnView(r), () => txnText(r));
    });

  kv.command('compact')
    .description('discard the history before REVISION (watches and reads at older revisions then fail)')
    .argument('<revision>', 'first revision to keep', positiveIntArg)
    .action(async (revision: number, _o: object, cmd: Command) => {
      const r = await ctx.withClient(cmd, (c) => c.compact(revision));
      ctx.print(cmd, { header: headerView(r.header), revision }, () => `compacted revision ${revision}\n`);
    });
}
