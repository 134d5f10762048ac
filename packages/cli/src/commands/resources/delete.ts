// `delete KIND NAME... | -f FILE | -l SELECTOR | --all`: `pod "x" deleted` per object, then
// (by default, like kubectl) wait until they are really gone: a pod stops gracefully first.
import { Command, Option } from 'commander';
import { isApiError, type KindInfo, type Resource } from '@bramble/api';
import type { DeletionPropagationPolicy, ResourceDeleteOptions } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { kindRef } from '../../printers/names.js';
import { boolOption, kindArg, namespaceOf, namespaceOptions, parseKindNames, resourcesOf, waitTimeoutMs, type NamespaceFlags } from './common.js';
import { placeInNamespace, readManifests } from './manifests.js';
import { waitUntilGone, type Awaited } from './wait.js';

/** How long `delete` waits for objects to go when no --timeout is given. */
export const DELETE_WAIT_DEFAULT_MS = 120_000;

interface DeleteFlags extends NamespaceFlags {
  filename: string[];
  recursive?: boolean;
  selector?: string;
  all?: boolean;
  gracePeriod?: number;
  force?: boolean;
  now?: boolean;
  cascade: string;
  wait: boolean;
  ignoreNotFound?: boolean;
}

const CASCADE: Record<string, DeletionPropagationPolicy> = {
  background: 'Background',
  foreground: 'Foreground',
  orphan: 'Orphan',
  true: 'Background',
  false: 'Orphan',
};

function gracePeriodArg(v: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--grace-period: expected a whole number of seconds (-1 = the object's default), got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The delete options from the flags; --force means grace period 0 unless one is given. */
export function deleteOptions(flags: Pick<DeleteFlags, 'gracePeriod' | 'force' | 'now' | 'cascade'>): ResourceDeleteOptions {
  const propagation = CASCADE[flags.cascade];
  if (!propagation) throw new UsageError(`--cascade: must be background, foreground or orphan (got ${JSON.stringify(flags.cascade)})`);
  let grace = flags.gracePeriod ?? -1;
  if (flags.now) {
    if (grace !== -1) throw new UsageError('--now and --grace-period cannot be specified together');
    grace = 1;
  }
  // As kubectl: --grace-period=0 alone becomes 1 (no accidental force); --force alone means 0.
  if (grace === 0 && !flags.force) grace = 1;
  if (flags.force && grace < 0) grace = 0;
  return { propagation, ...(grace >= 0 ? { gracePeriodSeconds: grace } : {}) };
}

interface Target {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

export function registerDelete(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('delete')
    .description('delete objects by name, by manifest (-f), by label (-l) or --all, and wait until they are gone')
    .argument('[type-or-name...]', 'TYPE NAME..., TYPE/NAME..., or TYPE with -l / --all');
  namespaceOptions(cmd, { all: true })
    .option('-f, --filename <file>', 'delete the objects in these manifests (file, directory or -); repeatable', (v: string, p: string[] = []) => [...p, v], [])
    .option('-R, --recursive', 'read directories given with -f recursively')
    .option('-l, --selector <selector>', 'delete the objects of TYPE matching this label selector')
    .option('--all', 'delete every object of TYPE in the namespace')
    .option('--grace-period <seconds>', "seconds a pod gets to stop (-1 = the pod's terminationGracePeriodSeconds; 0 only with --force)", gracePeriodArg)
    .option('--force', 'remove at once, without waiting for the node to confirm the pod stopped')
    .option('--now', 'signal pods to stop immediately (grace period 1)')
    .addOption(new Option('--cascade <mode>', 'what happens to dependents: background, foreground or orphan').default('background'))
    .addOption(boolOption('--wait [bool]', 'wait until the objects are gone (--wait=false to return at once)', true))
    .option('--ignore-not-found', 'an object that does not exist is not an error')
    .action(async (args: string[], flags: DeleteFlags, c: Command) => {
      const options = deleteOptions(flags);
      const namespace = namespaceOf(ctx, c, flags);
      if (flags.force && options.gracePeriodSeconds === 0) {
        ctx.err('Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n');
      }
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const targets = await resolveTargets(ctx, api, args, flags, namespace);
        const waiting: Awaited[] = [];
        let failures = '';
        for (const t of targets) {
          let deleted: Resource;
          try {
            deleted = (await api.delete(t.kind.kind, t.namespace, t.name, options)).object;
          } catch (err) {
            if (!isApiError(err)) throw err;
            if (isApiError(err, 'NotFound') && flags.ignoreNotFound) continue;
            const text = serverErrorText(err);
            failures += text;
            ctx.err(text);
            continue;
          }
          ctx.out(`${kindRef(t.kind)} ${JSON.stringify(t.name)} deleted\n`);
          waiting.push({ kind: t.kind.kind, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), name: t.name, ...(deleted.metadata.uid ? { uid: deleted.metadata.uid } : {}) });
        }
        if (flags.wait && waiting.length > 0) {
          const timeoutMs = waitTimeoutMs(ctx, c, DELETE_WAIT_DEFAULT_MS);
          const left = await waitUntilGone(api, waiting, timeoutMs);
          if (left.length > 0) {
            throw new CliError(`timed out after ${timeoutMs} ms waiting for ${left.map((o) => `${kindRef(o.kind)} ${JSON.stringify(o.name)}`).join(', ')} to be deleted`);
          }
        }
        if (failures !== '') throw new KubectlError('');
      });
    });
}

async function resolveTargets(
  ctx: CliContext,
  api: ReturnType<typeof resourcesOf>,
  args: string[],
  flags: DeleteFlags,
  namespace: string,
): Promise<Target[]> {
  const nsFor = (kind: KindInfo, own?: string): string | undefined => (kind.namespaced ? (own ?? namespace) : undefined);
  if (flags.filename.length > 0) {
    if (args.length > 0) throw new UsageError('delete: give either -f or TYPE NAME, not both');
    const objects = await readManifests(ctx, flags.filename, { recursive: flags.recursive ?? false });
    placeInNamespace(objects, namespace, flags.namespace !== undefined);
    return objects.map(({ object }) => {
      const kind = kindArg(object.kind);
      if (!object.metadata.name) throw new CliError(`delete -f: a ${object.kind} without metadata.name cannot be deleted`);
      return { kind, namespace: nsFor(kind, object.metadata.namespace), name: object.metadata.name };
    });
  }
  if (args.length === 0) throw new UsageError('delete: you must provide one or more resources by argument or filename (-f)');
  const groups = parseKindNames(args, { command: 'delete' });
  const targets: Target[] = [];
  for (const { kind, names } of groups) {
    if (names.length > 0) {
      if (flags.selector || flags.all) throw new UsageError('delete: names cannot be given with --selector or --all');
      targets.push(...names.map((name) => ({ kind, namespace: nsFor(kind), name })));
      continue;
    }
    if (!flags.selector && !flags.all) throw new UsageError(`delete: resource name(s) required, e.g. "delete ${kind.plural} NAME", or -l SELECTOR / --all`);
    const ns = flags.allNamespaces ? undefined : nsFor(kind);
    const list = await api.list(kind.kind, { ...(ns !== undefined ? { namespace: ns } : {}), ...(flags.selector ? { labelSelector: flags.selector } : {}) });
    if (list.items.length === 0) ctx.err(kind.namespaced && ns !== undefined ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
    targets.push(...list.items.map((o) => ({ kind, namespace: kind.namespaced ? o.metadata.namespace : undefined, name: o.metadata.name ?? '' })));
  }
  return targets;
}
