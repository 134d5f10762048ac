// `describe KIND [NAME...]`: each object in kubectl's layout, with what it relates to
// (a workload's pods, a node's pods, a Service's Endpoints) and the Events about it.
import { Command } from 'commander';
import { formatLabelSelector, isApiError, type Event, type KindInfo, type Resource } from '@bramble/api';
import type { ResourcesApi } from '@bramble/client';
import type { CliContext } from '../../context.js';
import type { DescribeRelated } from '../../printers/describe.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { namespaceOf, namespaceOptions, noResourcesText, parseKindNames, resourcesOf, type NamespaceFlags } from './common.js';

interface DescribeFlags extends NamespaceFlags {
  selector?: string;
}

function controlledBy(obj: Resource, owner: Resource): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === owner.metadata.uid);
}

async function relatedTo(api: ResourcesApi, obj: Resource): Promise<DescribeRelated> {
  const ns = obj.metadata.namespace;
  switch (obj.kind) {
    case 'Deployment': {
      const sets = await api.list('ReplicaSet', { namespace: ns, labelSelector: formatLabelSelector(obj.spec.selector) });
      return { replicaSets: sets.items.filter((rs) => controlledBy(rs, obj)) };
    }
    case 'ReplicaSet':
    case 'DaemonSet': {
      const pods = await api.list('Pod', { namespace: ns, labelSelector: formatLabelSelector(obj.spec.selector) });
      return { pods: pods.items.filter((p) => controlledBy(p, obj)) };
    }
    case 'Node': {
      const pods = await api.list('Pod', { fieldSelector: `spec.nodeName=${obj.metadata.name}` });
      return { pods: pods.items };
    }
    case 'Service': {
      try {
        return { endpoints: await api.get('Endpoints', ns, obj.metadata.name ?? '') };
      } catch (err) {
        if (isApiError(err, 'NotFound')) return {};
        throw err;
      }
    }
    default:
      return {};
  }
}

async function eventsFor(api: ResourcesApi, kind: KindInfo, obj: Resource): Promise<Event[]> {
  const fieldSelector = `involvedObject.kind=${kind.kind},involvedObject.name=${obj.metadata.name}`;
  const list = await api.list('Event', { ...(kind.namespaced ? { namespace: obj.metadata.namespace } : {}), fieldSelector });
  return list.items;
}

export function registerDescribe(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('describe')
    .description('show objects in detail, with the events about them: describe pod web-1, describe deploy/web, describe nodes')
    .argument('<type-or-name...>', 'TYPE [NAME...] or TYPE/NAME...');
  namespaceOptions(cmd, { all: true })
    .option('-l, --selector <selector>', 'label selector (when no names are given)')
    .action(async (args: string[], flags: DescribeFlags, c: Command) => {
      const groups = parseKindNames(args, { command: 'describe' });
      const namespace = flags.allNamespaces ? undefined : namespaceOf(ctx, c, flags);
      // The describe printers load only when describe runs.
      const { describeObject } = await import('../../printers/describe.js');
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const texts: string[] = [];
        let failures = '';
        for (const { kind, names } of groups) {
          const ns = kind.namespaced ? namespace : undefined;
          let objects: Resource[] = [];
          if (names.length === 0) {
            objects = (await api.list(kind.kind, { ...(ns !== undefined ? { namespace: ns } : {}), ...(flags.selector ? { labelSelector: flags.selector } : {}) })).items;
            if (objects.length === 0) ctx.err(noResourcesText(ns, kind.namespaced));
          } else {
            for (const name of names) {
              try {
                objects.push(await api.get(kind.kind, ns, name));
              } catch (err) {
                if (!isApiError(err)) throw err;
                failures += serverErrorText(err);
              }
            }
          }
          for (const obj of objects) {
            const [related, events] = await Promise.all([relatedTo(api, obj), eventsFor(api, kind, obj)]);
            texts.push(describeObject(kind, obj, related, events, Date.now()));
          }
        }
        ctx.out(texts.join('\n\n'));
        if (failures !== '') throw new KubectlError(failures);
      });
    });
}
