// `scale KIND NAME --replicas N`: a merge patch of spec.replicas (Deployments, ReplicaSets).
import { Command } from 'commander';
import { isApiError } from '@bramble/api';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { kindRef } from '../../printers/names.js';
import { nonNegativeIntArg } from '../args.js';
import { namespaceOf, namespaceOptions, parseKindNames, resourcesOf, type NamespaceFlags } from './common.js';

const SCALABLE = new Set(['Deployment', 'ReplicaSet']);

interface ScaleFlags extends NamespaceFlags {
  replicas?: number;
  currentReplicas?: number;
}

export function registerScale(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('scale')
    .description('set the number of replicas of deployments or replicasets: scale deploy web --replicas 3')
    .argument('<type-or-name...>', 'TYPE NAME... or TYPE/NAME...');
  namespaceOptions(cmd)
    .option('--replicas <n>', 'the new number of replicas', nonNegativeIntArg)
    .option('--current-replicas <n>', 'only scale when the current number of replicas is this', nonNegativeIntArg)
    .action(async (args: string[], flags: ScaleFlags, c: Command) => {
      if (flags.replicas === undefined) throw new UsageError('scale: --replicas=COUNT is required');
      const groups = parseKindNames(args, { command: 'scale', requireNames: true });
      for (const g of groups) {
        if (!SCALABLE.has(g.kind.kind)) throw new CliError(`cannot scale ${g.kind.plural}: only deployments and replicasets have replicas`);
      }
      const namespace = namespaceOf(ctx, c, flags);
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        let failures = '';
        for (const { kind, names } of groups) {
          for (const name of names) {
            try {
              if (flags.currentReplicas !== undefined) {
                const live = (await api.get(kind.kind, namespace, name)) as { spec?: { replicas?: number } };
                const current = live.spec?.replicas ?? 1;
                if (current !== flags.currentReplicas) throw new CliError(`Expected replicas to be ${flags.currentReplicas}, was ${current}`);
              }
              await api.patch(kind.kind, namespace, name, { spec: { replicas: flags.replicas } });
              ctx.out(`${kindRef(kind)}/${name} scaled\n`);
            } catch (err) {
              if (!isApiError(err)) throw err;
              const text = serverErrorText(err);
              failures += text;
              ctx.err(text);
            }
          }
        }
        if (failures !== '') throw new KubectlError('');
      });
    });
}
