// `apply -f` and `create -f`: read and check every manifest first, then send the objects
// in order, one line per object (`deployment.apps/web created`). A server-side failure is
// printed kubectl's way and the rest still go; the exit code is then 1.
import { Command } from 'commander';
import { isApiError, type Resource } from '@bramble/api';
import type { ApplyAction } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { toJson, toYaml } from '../../output.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { objectRef } from '../../printers/names.js';
import { namespaceOf, namespaceOptions, resourcesOf, type NamespaceFlags } from './common.js';
import { placeInNamespace, readManifests } from './manifests.js';

interface ApplyFlags extends NamespaceFlags {
  filename: string[];
  recursive?: boolean;
  dryRun?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function addManifestOptions(cmd: Command, verb: string): Command {
  return namespaceOptions(cmd)
    .option('-f, --filename <file>', `file, directory (its *.yaml, *.yml, *.json files) or - (stdin) to ${verb}; repeatable`, collect, [])
    .option('-R, --recursive', 'read directories given with -f recursively')
    .option('--dry-run', 'validate and default on the server without storing anything');
}

async function run(ctx: CliContext, cmd: Command, flags: ApplyFlags, mode: 'apply' | 'create'): Promise<void> {
  const objects = await readManifests(ctx, flags.filename, { recursive: flags.recursive ?? false });
  placeInNamespace(objects, namespaceOf(ctx, cmd, flags), flags.namespace !== undefined);
  const output = ctx.globals(cmd).output;
  const dryRun = flags.dryRun ?? false;
  const done: Resource[] = [];
  let failures = '';
  await ctx.withClient(cmd, async (client) => {
    const api = resourcesOf(client);
    for (const { object, source } of objects) {
      let result: Resource;
      let action: ApplyAction;
      try {
        if (mode === 'apply') {
          const r = await api.apply(object, { dryRun });
          result = r.object;
          action = r.action;
        } else {
          result = await api.create(object, { dryRun });
          action = 'created';
        }
      } catch (err) {
        if (!isApiError(err)) throw err;
        const context = `error when ${mode === 'apply' ? 'applying' : 'creating'} ${JSON.stringify(source)}`;
        const text = serverErrorText(err, context);
        failures += text;
        ctx.err(text);
        continue;
      }
      done.push(result);
      if (output === 'table' || output === 'wide') ctx.out(`${objectRef(result)} ${action}${dryRun ? ' (server dry run)' : ''}\n`);
      else if (output === 'name') ctx.out(`${objectRef(result)}\n`);
    }
  });
  if (output === 'json' || output === 'yaml') {
    const value = done.length === 1 ? done[0] : { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: done };
    ctx.out(output === 'json' ? toJson(value) : toYaml(value));
  }
  // Already printed as they happened; only the exit code is left to set.
  if (failures !== '') throw new KubectlError('', 1);
}

export function registerApply(program: Command, ctx: CliContext): void {
  addManifestOptions(program.command('apply').description('create or update objects from manifests so they match them (kubectl apply)'), 'apply').action(
    (flags: ApplyFlags, cmd: Command) => run(ctx, cmd, flags, 'apply'),
  );
  addManifestOptions(program.command('create').description('create objects from manifests; an existing object is an error'), 'create').action(
    (flags: ApplyFlags, cmd: Command) => run(ctx, cmd, flags, 'create'),
  );
}
