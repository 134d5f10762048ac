// `cordon`, `uncordon` (spec.unschedulable) and `drain`: cordon, then delete the node's
// pods (refusing, as kubectl does, DaemonSet pods without --ignore-daemonsets and pods no
// controller would recreate without --force), and wait until they are gone.
import { Command } from 'commander';
import { controllerRef, isApiError, type Node, type Pod } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { resourcesOf, waitTimeoutMs } from './common.js';
import { waitUntilGone } from './wait.js';

/** How long drain waits for the pods to go when --timeout is not given. */
export const DRAIN_WAIT_DEFAULT_MS = 300_000;

async function setUnschedulable(api: ResourcesApi, name: string, unschedulable: boolean): Promise<'changed' | 'already'> {
  const node: Node = await api.get('Node', undefined, name);
  if ((node.spec?.unschedulable ?? false) === unschedulable) return 'already';
  // A merge patch with null removes the field, as kubectl's uncordon leaves it.
  await api.patch('Node', undefined, name, { spec: { unschedulable: unschedulable ? true : null } });
  return 'changed';
}

function registerCordon(program: Command, ctx: CliContext, verb: 'cordon' | 'uncordon'): void {
  const unschedulable = verb === 'cordon';
  program
    .command(verb)
    .description(unschedulable ? 'mark nodes unschedulable: no new pods are placed there' : 'mark nodes schedulable again')
    .argument('<node...>')
    .action(async (names: string[], _flags: object, c: Command) => {
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        for (const raw of names) {
          const name = raw.replace(/^(node|nodes|no)\//, '');
          const r = await setUnschedulable(api, name, unschedulable);
          ctx.out(r === 'already' ? `node/${name} already ${verb}ed\n` : `node/${name} ${verb}ed\n`);
        }
      });
    });
}

interface DrainFlags {
  ignoreDaemonsets?: boolean;
  force?: boolean;
  gracePeriod?: number;
  deleteEmptydirData?: boolean;
}

function podKey(p: Pod): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

/** The pods drain deletes, or why it must refuse; `warnings` as kubectl prints them. */
export function drainPlan(pods: Pod[], flags: Pick<DrainFlags, 'ignoreDaemonsets' | 'force'>): { remove: Pod[]; errors: string[]; warnings: string[] } {
  const remove: Pod[] = [];
  const daemonSet: Pod[] = [];
  const unmanaged: Pod[] = [];
  for (const p of pods) {
    const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    const owner = controllerRef(p);
    if (owner?.kind === 'DaemonSet' && !finished) daemonSet.push(p);
    else {
      if (!owner && !finished) unmanaged.push(p);
      remove.push(p);
    }
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  if (unmanaged.length > 0) {
    if (flags.force) warnings.push(`deleting Pods that declare no controller: ${unmanaged.map(podKey).join(', ')}`);
    else errors.push(`cannot delete Pods that declare no controller (use --force to override): ${unmanaged.map(podKey).join(', ')}`);
  }
  if (daemonSet.length > 0) {
    if (flags.ignoreDaemonsets) warnings.push(`ignoring DaemonSet-managed Pods: ${daemonSet.map(podKey).join(', ')}`);
    else errors.push(`cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${daemonSet.map(podKey).join(', ')}`);
  }
  return { remove, errors, warnings };
}

function registerDrain(program: Command, ctx: CliContext): void {
  program
    .command('drain')
    .description('cordon a node and delete its pods (for maintenance), waiting until they are gone')
    .argument('<node>')
    .option('--ignore-daemonsets', 'leave DaemonSet pods (their controller would put them back anyway)')
    .option('--force', 'also delete pods that no controller manages (they are not recreated)')
    .option('--grace-period <seconds>', "seconds each pod gets to stop (-1 = the pod's own)", (v: string) => {
      if (!/^-?\d+$/.test(v)) throw new UsageError(`--grace-period: expected a whole number of seconds, got ${JSON.stringify(v)}`);
      return Number(v);
    })
    .option('--delete-emptydir-data', 'accepted for kubectl compatibility (emptyDir data goes with the pod)')
    .action(async (raw: string, flags: DrainFlags, c: Command) => {
      const name = raw.replace(/^(node|nodes|no)\//, '');
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const r = await setUnschedulable(api, name, true);
        ctx.out(r === 'already' ? `node/${name} already cordoned\n` : `node/${name} cordoned\n`);
        const pods = (await api.list('Pod', { fieldSelector: `spec.nodeName=${name}` })).items;
        const plan = drainPlan(pods, flags);
        if (plan.errors.length > 0) {
          throw new KubectlError(
            `error: unable to drain node ${JSON.stringify(name)} due to error: ${plan.errors.join(', ')}, continuing command...\nThere are pending nodes to be drained:\n ${name}\n${plan.errors.map((e) => `error: ${e}\n`).join('')}`,
          );
        }
        for (const w of plan.warnings) ctx.err(`Warning: ${w}\n`);
        let failures = '';
        const deleted: Pod[] = [];
        for (const p of plan.remove) {
          ctx.out(`evicting pod ${podKey(p)}\n`);
          if (p.metadata.deletionTimestamp) {
            deleted.push(p);
            continue;
          }
          try {
            await api.delete('Pod', p.metadata.namespace, p.metadata.name ?? '', {
              ...(flags.gracePeriod !== undefined && flags.gracePeriod >= 0 ? { gracePeriodSeconds: flags.gracePeriod } : {}),
              preconditions: { uid: p.metadata.uid },
            });
            deleted.push(p);
          } catch (err) {
            if (isApiError(err, 'NotFound')) {
              deleted.push(p);
              continue;
            }
            if (!isApiError(err)) throw err;
            const text = serverErrorText(err, `error when evicting pods/${JSON.stringify(p.metadata.name)} -n ${JSON.stringify(p.metadata.namespace)}`);
            failures += text;
            ctx.err(text);
          }
        }
        // --timeout (global) bounds the wait when given, as kubectl drain --timeout does.
        const timeoutMs = waitTimeoutMs(ctx, c, DRAIN_WAIT_DEFAULT_MS);
        const left = await waitUntilGone(
          api,
          deleted.map((p) => ({ kind: 'Pod' as const, namespace: p.metadata.namespace, name: p.metadata.name ?? '', uid: p.metadata.uid })),
          timeoutMs,
          (o) => ctx.out(`pod/${o.name} evicted\n`),
        );
        if (left.length > 0) {
          throw new CliError(`unable to drain node ${JSON.stringify(name)}: timed out after ${timeoutMs} ms waiting for pods to be deleted: ${left.map((o) => `${o.namespace}/${o.name}`).join(', ')}`);
        }
        if (failures !== '') throw new KubectlError(`error: unable to drain node ${JSON.stringify(name)}: some pods could not be deleted\n`);
        ctx.out(`node/${name} drained\n`);
      });
    });
}

export function registerNodeCommands(program: Command, ctx: CliContext): void {
  registerCordon(program, ctx, 'cordon');
  registerCordon(program, ctx, 'uncordon');
  registerDrain(program, ctx);
}
