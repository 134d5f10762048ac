// `rollout status|history|undo|pause|resume|restart deployment/NAME` (or `deploy NAME`), as
// kubectl does them against the Deployment and the ReplicaSets it controls.
import { Command } from 'commander';
import { isApiError, templatesEqualIgnoringHash, type Deployment } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { objectRef, pluralRef } from '../../printers/names.js';
import { nonNegativeIntArg } from '../args.js';
import { boolOption, namespaceOf, namespaceOptions, parseKindNames, resourcesOf, waitTimeoutMs, type NamespaceFlags } from './common.js';
import {
  findRevision,
  historyRows,
  ownedReplicaSets,
  RESTARTED_AT_ANNOTATION,
  revisionOf,
  rolledBack,
  type HistoryRow,
} from './rollout-history.js';
import { deploymentRolloutState } from './rollout-status.js';

/** Conflicting writes (the controller updates the Deployment too) are retried this often. */
const MAX_CONFLICT_RETRIES = 5;

/** The Deployment names of `TYPE NAME...` / `TYPE/NAME...`; only Deployments roll out here. */
function deploymentNames(args: string[], command: string): string[] {
  const groups = parseKindNames(args, { command, requireNames: true });
  for (const g of groups) {
    if (g.kind.kind !== 'Deployment') throw new CliError(`${command}: only deployments have rollouts (got ${g.kind.plural})`);
  }
  return groups.flatMap((g) => g.names);
}

/** Runs `fn` for each name; API errors are printed kubectl-style and make the command exit 1 at the end. */
async function forEachDeployment(ctx: CliContext, names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const name of names) {
    try {
      await fn(name);
    } catch (err) {
      if (isApiError(err)) ctx.err(serverErrorText(err));
      else if (err instanceof CliError && !(err instanceof UsageError)) ctx.err(`error: ${err.message}\n`);
      else throw err;
      failed = true;
    }
  }
  if (failed) throw new KubectlError('');
}

/**
 * Reads the Deployment, lets `change` make the next version (undefined: nothing to write)
 * and writes it with the resourceVersion it read; a Conflict (the controller or a user
 * wrote in between) starts over. Resolves to the Deployment as written (or as read).
 */
async function updateDeployment(
  api: ResourcesApi,
  namespace: string,
  name: string,
  change: (live: Deployment) => Promise<Deployment | undefined> | Deployment | undefined,
): Promise<Deployment> {
  for (let attempt = 0; ; attempt++) {
    const live = await api.get('Deployment', namespace, name);
    const next = await change(live);
    if (next === undefined) return live;
    try {
      return await api.update(next);
    } catch (err) {
      if (!isApiError(err, 'Conflict') || attempt >= MAX_CONFLICT_RETRIES) throw err;
    }
  }
}

/** `deployments.apps "web"`, as kubectl names an object in its errors. */
function deploymentRef(name: string): string {
  return `${pluralRef('Deployment')} ${JSON.stringify(name)}`;
}

// ---- status --------------------------------------------------------------------------

interface StatusFlags extends NamespaceFlags {
  watch: boolean;
  revision?: number;
}

/** Prints each new state of the rollout until it is done; rejects on a failure, Ctrl-C or the deadline. */
async function watchRollout(ctx: CliContext, api: ResourcesApi, namespace: string, first: Deployment, flags: StatusFlags, timeoutMs: number): Promise<void> {
  let lastText = '';
  const show = (d: Deployment): boolean => {
    const state = deploymentRolloutState(d, flags.revision);
    if (state.text !== lastText) ctx.out(state.text);
    lastText = state.text;
    return state.done;
  };
  if (show(first) || !flags.watch) return;
  const name = first.metadata.name ?? '';
  await new Promise<void>((resolve, reject) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let off = (): void => {};
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      off();
      handle.close();
      if (err) reject(err);
      else resolve();
    };
    // From the revision the Deployment was read at: no change in between is missed.
    const handle = api.watch('Deployment', { namespace, fieldSelector: `metadata.name=${name}`, resourceVersion: first.metadata.resourceVersion }, (event) => {
      if (finished || event.type === 'BOOKMARK') return;
      if (event.type === 'DELETED') return finish(new CliError(`deployment ${JSON.stringify(name)} was deleted`));
      try {
        if (show(event.object)) finish();
      } catch (err) {
        finish(err as Error);
      }
    });
    void handle.done.then((err) => finish(err ?? (finished ? undefined : new CliError(`the watch of deployment ${JSON.stringify(name)} ended`))));
    off = ctx.environment.onInterrupt(() => finish(new KubectlError('', 130)));
    if (Number.isFinite(timeoutMs)) timer = setTimeout(() => finish(new CliError('timed out waiting for the condition')), timeoutMs);
  });
}

function registerStatus(rollout: Command, ctx: CliContext): void {
  const cmd = rollout
    .command('status')
    .description('show the status of a rollout, following it until it completes (exit 1 if it exceeded its progress deadline)')
    .argument('<type-or-name...>', 'deployment/NAME or deployment NAME');
  namespaceOptions(cmd)
    .addOption(boolOption('-w, --watch [bool]', 'follow the rollout until it completes (--watch=false: print the status once)', true))
    .option('--revision <n>', 'fail unless the Deployment runs this revision', nonNegativeIntArg)
    .addHelpText('after', '\nThe global --timeout bounds the whole wait (default: wait until the rollout completes or fails).')
    .action(async (args: string[], flags: StatusFlags, c: Command) => {
      const names = deploymentNames(args, 'rollout status');
      if (names.length !== 1) throw new UsageError(`rollout status: exactly one deployment, got ${names.length}`);
      const namespace = namespaceOf(ctx, c, flags);
      const timeoutMs = waitTimeoutMs(ctx, c, Number.POSITIVE_INFINITY);
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const d = await api.get('Deployment', namespace, names[0]);
        await watchRollout(ctx, api, namespace, d, flags, timeoutMs);
      });
    });
}

// ---- history, undo ---------------------------------------------------------------------

async function historyOf(api: ResourcesApi, namespace: string, name: string): Promise<{ d: Deployment; rows: HistoryRow[] }> {
  const d = await api.get('Deployment', namespace, name);
  const sets = (await api.list('ReplicaSet', { namespace })).items;
  return { d, rows: historyRows(ownedReplicaSets(d, sets)) };
}

/** `REVISION  CHANGE-CAUSE` (two spaces between columns, like kubectl's history). */
function historyTable(rows: HistoryRow[]): string {
  const width = Math.max('REVISION'.length, ...rows.map((r) => String(r.revision).length));
  const line = (a: string, b: string) => `${a.padEnd(width)}  ${b}`.trimEnd();
  return [line('REVISION', 'CHANGE-CAUSE'), ...rows.map((r) => line(String(r.revision), r.changeCause?.replace(/[\t\n]/g, ' ') || '<none>'))].join('\n') + '\n';
}

function registerHistory(rollout: Command, ctx: CliContext): void {
  const cmd = rollout
    .command('history')
    .description('list the revisions of deployments (REVISION, CHANGE-CAUSE), or show one revision\'s pod template')
    .argument('<type-or-name...>', 'deployment/NAME... or deployment NAME...');
  namespaceOptions(cmd)
    .option('--revision <n>', 'show the pod template of this revision', nonNegativeIntArg)
    .action(async (args: string[], flags: NamespaceFlags & { revision?: number }, c: Command) => {
      const names = deploymentNames(args, 'rollout history');
      const namespace = namespaceOf(ctx, c, flags);
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        await forEachDeployment(ctx, names, async (name) => {
          const { d, rows } = await historyOf(api, namespace, name);
          if (flags.revision !== undefined && flags.revision > 0) {
            const row = rows.find((r) => r.revision === flags.revision);
            if (!row) throw new CliError(`unable to find the specified revision ${flags.revision} of deployment ${JSON.stringify(name)}`);
            const { DescribeWriter } = await import('../../printers/describe-writer.js');
            const { describePodTemplate } = await import('../../printers/describe-pod.js');
            ctx.print(c, row.replicaSet, () => {
              const w = new DescribeWriter();
              describePodTemplate(w, row.replicaSet.spec.template);
              const cause = row.changeCause ? `Change-Cause: ${row.changeCause}\n` : '';
              return `${objectRef(d)} with revision #${row.revision}\n${cause}${w.toString()}`;
            });
            return;
          }
          const list = { apiVersion: 'v1', kind: 'List', items: rows.map((r) => r.replicaSet) };
          ctx.print(c, list, () => (rows.length === 0 ? `${objectRef(d)}\nNo rollout history found.\n` : `${objectRef(d)}\n${historyTable(rows)}\n`));
        });
      });
    });
}

function registerUndo(rollout: Command, ctx: CliContext): void {
  const cmd = rollout
    .command('undo')
    .description('roll back to the previous revision, or --to-revision N (its pod template becomes the Deployment\'s)')
    .argument('<type-or-name...>', 'deployment/NAME... or deployment NAME...');
  namespaceOptions(cmd)
    .option('--to-revision <n>', 'the revision to roll back to (default 0: the previous one)', nonNegativeIntArg)
    .action(async (args: string[], flags: NamespaceFlags & { toRevision?: number }, c: Command) => {
      const names = deploymentNames(args, 'rollout undo');
      const namespace = namespaceOf(ctx, c, flags);
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        await forEachDeployment(ctx, names, async (name) => {
          let skipped: number | undefined;
          const done = await updateDeployment(api, namespace, name, async (d) => {
            if (d.spec.paused) {
              throw new CliError(`you cannot rollback a paused deployment; resume it first with 'bramble rollout resume deployment/${name}' and try again`);
            }
            const owned = ownedReplicaSets(d, (await api.list('ReplicaSet', { namespace })).items);
            const target = findRevision(d, owned, flags.toRevision ?? 0);
            if (templatesEqualIgnoringHash(target.spec.template, d.spec.template)) {
              skipped = revisionOf(target);
              return undefined;
            }
            return rolledBack(d, target);
          });
          if (skipped !== undefined) ctx.out(`${objectRef(done)} skipped rollback (current template already matches revision ${skipped})\n`);
          else ctx.out(`${objectRef(done)} rolled back\n`);
        });
      });
    });
}

// ---- pause, resume, restart --------------------------------------------------------------

function registerToggle(rollout: Command, ctx: CliContext, verb: 'pause' | 'resume' | 'restart', description: string, change: (d: Deployment, name: string) => void): void {
  const cmd = rollout.command(verb).description(description).argument('<type-or-name...>', 'deployment/NAME... or deployment NAME...');
  const past = verb === 'pause' ? 'paused' : verb === 'resume' ? 'resumed' : 'restarted';
  namespaceOptions(cmd).action(async (args: string[], flags: NamespaceFlags, c: Command) => {
    const names = deploymentNames(args, `rollout ${verb}`);
    const namespace = namespaceOf(ctx, c, flags);
    await ctx.withClient(c, async (client) => {
      const api = resourcesOf(client);
      await forEachDeployment(ctx, names, async (name) => {
        const updated = await updateDeployment(api, namespace, name, (live) => {
          const next = structuredClone(live);
          change(next, name);
          return next;
        });
        ctx.out(`${objectRef(updated)} ${past}\n`);
      });
    });
  });
}

/** `2024-05-01T10:00:00Z`: RFC 3339 in UTC, to the second (as kubectl writes restartedAt). */
export function rfc3339Seconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function registerRollout(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('manage the rollout of deployments: status, history, undo, pause, resume, restart');
  registerStatus(rollout, ctx);
  registerHistory(rollout, ctx);
  registerUndo(rollout, ctx);
  registerToggle(rollout, ctx, 'pause', 'pause a deployment: template changes do not roll out until resumed (scaling still applies)', (d, name) => {
    if (d.spec.paused) throw new CliError(`${deploymentRef(name)} is already paused`);
    d.spec.paused = true;
  });
  registerToggle(rollout, ctx, 'resume', 'resume a paused deployment', (d, name) => {
    if (!d.spec.paused) throw new CliError(`${deploymentRef(name)} is not paused`);
    d.spec.paused = false;
  });
  registerToggle(rollout, ctx, 'restart', 'restart every pod of a deployment by a rolling update (sets the kubectl.kubernetes.io/restartedAt template annotation)', (d, name) => {
    if (d.spec.paused) throw new CliError(`${deploymentRef(name)} can't restart paused deployment (run rollout resume first)`);
    const metadata = d.spec.template.metadata ?? {};
    metadata.annotations = { ...(metadata.annotations ?? {}), [RESTARTED_AT_ANNOTATION]: rfc3339Seconds(Date.now()) };
    d.spec.template.metadata = metadata;
  });
}
