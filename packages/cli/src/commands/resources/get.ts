// `get`: tables like kubectl's (or -o wide|name|json|yaml), `get all`, named objects,
// selectors, every namespace (-A), and -w to keep printing a row per change.
import { Command } from 'commander';
import { isApiError, resolveKind, type KindInfo, type KindName, type Resource } from '@bramble/api';
import type { ResourcesApi, ResourceWatchEvent } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../errors.js';
import { toJson, toYaml, type OutputFormat } from '../../output.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { objectRef } from '../../printers/names.js';
import type { TableOptions } from '../../printers/table.js';

// The table printers load when `get` runs (commands load their printers lazily: see program.ts).
type TablePrinters = typeof import('../../printers/table.js');
import { namespaceOf, namespaceOptions, noResourcesText, parseKindNames, resourcesOf, type KindNames, type NamespaceFlags } from './common.js';

/** What `get all` lists, in kubectl's order. */
export const ALL_KINDS: KindName[] = ['Pod', 'Service', 'DaemonSet', 'Deployment', 'ReplicaSet'];

interface GetFlags extends NamespaceFlags {
  selector?: string;
  fieldSelector?: string;
  watch?: boolean;
  showLabels?: boolean;
  headers?: boolean;
}

interface Fetched {
  kind: KindInfo;
  objects: Resource[];
  /** The list's revision, to watch from (lists only). */
  resourceVersion?: string;
}

function kindGroups(args: string[]): { groups: KindNames[]; all: boolean } {
  if (args.length > 0 && args[0].split(',').includes('all') && !args[0].includes('/')) {
    if (args.length > 1) throw new UsageError('get all: names cannot be given with "all"');
    const others = args[0].split(',').filter((w) => w !== 'all');
    const kinds = [...ALL_KINDS.map((k) => resolveKind(k) as KindInfo), ...parseKindNames(others.length ? [others.join(',')] : ['pods'], { command: 'get' }).map((g) => g.kind)];
    const unique = kinds.filter((k, i) => kinds.findIndex((x) => x.kind === k.kind) === i);
    return { groups: unique.map((kind) => ({ kind, names: [] })), all: true };
  }
  return { groups: parseKindNames(args, { command: 'get' }), all: false };
}

export function registerGet(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('get')
    .description('list objects in a table (or -o wide|name|json|yaml): get pods, get deploy web, get pod/a svc/b, get all')
    .argument('<type-or-name...>', 'TYPE [NAME...], TYPE/NAME..., TYPE1,TYPE2, or all');
  namespaceOptions(cmd, { all: true })
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .option('--field-selector <selector>', 'field selector, e.g. spec.nodeName=node1,status.phase=Running')
    .option('-w, --watch', 'after the list, print a row for every change until Ctrl-C')
    .option('--show-labels', 'add a LABELS column')
    .option('--no-headers', 'leave out the header line')
    .action(async (args: string[], flags: GetFlags, c: Command) => {
      const { groups, all } = kindGroups(args);
      if (flags.watch && groups.length > 1) throw new UsageError('get -w: watch is only supported on a single resource type');
      const namespace = flags.allNamespaces ? undefined : namespaceOf(ctx, c, flags);
      const output = ctx.globals(c).output;
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const { fetched, failures } = await fetchAll(api, groups, namespace, flags);
        const named = groups.some((g) => g.names.length > 0);
        const tables = await import('../../printers/table.js');
        printFetched(ctx, tables, fetched, { output, namespace, all, named, flags, groups });
        if (flags.watch) await watch(ctx, tables, api, fetched[0], namespace, flags, output, groups[0].names);
        if (failures !== '') throw new KubectlError(failures);
      });
    });
}

async function fetchAll(api: ResourcesApi, groups: KindNames[], namespace: string | undefined, flags: GetFlags): Promise<{ fetched: Fetched[]; failures: string }> {
  const fetched: Fetched[] = [];
  let failures = '';
  for (const { kind, names } of groups) {
    const ns = kind.namespaced ? namespace : undefined;
    if (names.length === 0) {
      const list = await api.list(kind.kind, {
        ...(ns !== undefined ? { namespace: ns } : {}),
        ...(flags.selector ? { labelSelector: flags.selector } : {}),
        ...(flags.fieldSelector ? { fieldSelector: flags.fieldSelector } : {}),
      });
      fetched.push({ kind, objects: list.items, resourceVersion: list.resourceVersion });
      continue;
    }
    const objects: Resource[] = [];
    for (const name of names) {
      try {
        objects.push(await api.get(kind.kind, ns, name));
      } catch (err) {
        if (!isApiError(err)) throw err;
        failures += serverErrorText(err);
      }
    }
    fetched.push({ kind, objects });
  }
  return { fetched, failures };
}

interface PrintContext {
  output: OutputFormat;
  namespace: string | undefined;
  all: boolean;
  named: boolean;
  flags: GetFlags;
  groups: KindNames[];
}

function tableOptions(p: { output: OutputFormat; namespace: string | undefined; flags: GetFlags }, kind: KindInfo, withKind: boolean): TableOptions {
  return {
    nowMs: Date.now(),
    wide: p.output === 'wide',
    withNamespace: p.namespace === undefined && kind.namespaced,
    withKind,
    showLabels: p.flags.showLabels ?? false,
  };
}

function printFetched(ctx: CliContext, { buildTable, renderTable }: TablePrinters, fetched: Fetched[], p: PrintContext): void {
  const objects = fetched.flatMap((f) => f.objects);
  if (p.output === 'json' || p.output === 'yaml') {
    const single = !p.flags.watch && p.groups.length === 1 && p.groups[0].names.length === 1;
    if (single && objects.length === 0) return;
    const value = single ? objects[0] : { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: objects };
    ctx.out(p.output === 'json' ? toJson(value) : toYaml(value));
    return;
  }
  if (p.output === 'name') {
    for (const o of objects) ctx.out(`${objectRef(o)}\n`);
    return;
  }
  if (objects.length === 0) {
    if (!p.named && !p.flags.watch) ctx.err(noResourcesText(p.namespace, fetched.some((f) => f.kind.namespaced)));
    return;
  }
  const withKind = p.all || fetched.length > 1;
  const tables = fetched
    .filter((f) => f.objects.length > 0)
    .map((f) => {
      const kind = f.kind.kind;
      const objs = kind === 'Event' ? sortEvents(f.objects) : f.objects;
      let text = renderTable(buildTable(kind, objs as never[], tableOptions(p, f.kind, withKind)));
      if (p.flags.headers === false) text = text.slice(text.indexOf('\n') + 1);
      return text;
    });
  ctx.out(tables.join('\n'));
}

/** Events oldest first, like `kubectl get events`. */
function sortEvents(events: Resource[]): Resource[] {
  const t = (e: Resource): number => {
    const ev = e as Extract<Resource, { kind: 'Event' }>;
    const s = ev.lastTimestamp ?? ev.eventTime ?? ev.firstTimestamp ?? ev.metadata.creationTimestamp;
    const ms = s ? Date.parse(s) : NaN;
    return Number.isNaN(ms) ? 0 : ms;
  };
  return [...events].sort((a, b) => t(a) - t(b));
}

async function watch(
  ctx: CliContext,
  { StreamingTable, tableHeaders, tableRow }: TablePrinters,
  api: ResourcesApi,
  fetched: Fetched,
  namespace: string | undefined,
  flags: GetFlags,
  output: OutputFormat,
  names: string[],
): Promise<void> {
  if (names.length > 1) throw new UsageError('get -w: watch is only supported for one name at a time');
  const kind = fetched.kind;
  const ns = kind.namespaced ? namespace : undefined;
  const opts = tableOptions({ output, namespace, flags }, kind, false);
  const table = new StreamingTable(tableHeaders(kind.kind, opts));
  if (output === 'table' || output === 'wide') {
    // The list was printed already; its widths fix the stream's columns.
    if (fetched.objects.length > 0) table.print(fetched.objects.map((o) => tableRow(kind.kind, o as never, opts)));
  }
  const fieldSelector = [flags.fieldSelector, names.length === 1 ? `metadata.name=${names[0]}` : undefined].filter(Boolean).join(',');
  const onEvent = (e: ResourceWatchEvent): void => {
    if (e.type === 'BOOKMARK') return;
    if (output === 'json') ctx.out(toJson(e.object));
    else if (output === 'yaml') ctx.out(`---\n${toYaml(e.object)}`);
    else if (output === 'name') ctx.out(`${objectRef(e.object)}\n`);
    else {
      const rowOpts = { ...opts, nowMs: Date.now() };
      ctx.out(table.print([tableRow(kind.kind, e.object as never, rowOpts)]));
    }
  };
  // A named object's rows (no list revision) start from now; a list's from the revision it was read at.
  const handle = api.watch(
    kind.kind,
    {
      ...(ns !== undefined ? { namespace: ns } : {}),
      ...(flags.selector ? { labelSelector: flags.selector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
      ...(fetched.resourceVersion ? { resourceVersion: fetched.resourceVersion } : {}),
    },
    onEvent,
  );
  const off = ctx.environment.onInterrupt(() => handle.close());
  try {
    const err = await handle.done;
    if (err) throw err;
  } finally {
    off();
  }
}
