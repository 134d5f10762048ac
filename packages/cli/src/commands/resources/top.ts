// `top nodes` and `top pods`: ask every Ready node's kubelet for its live usage.
import { Command } from 'commander';
import type { Node } from '@bramble/api';
import { KubeletClient, type KubeletStats } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../errors.js';
import { toJson, toYaml } from '../../output.js';
import type { NodeUsage } from '../../printers/top.js';
import { namespaceOf, namespaceOptions, noResourcesText, resourcesOf, type NamespaceFlags } from './common.js';
import { kubeletEndpoint } from './kubelet.js';

// The printers load when a top command runs, not with the CLI (see program.ts).
const printers = async () => {
  const [{ nodeStatus }, top] = await Promise.all([import('../../printers/columns.js'), import('../../printers/top.js')]);
  return { ...top, isReady: (node: Node): boolean => nodeStatus(node).startsWith('Ready') };
};

/** Stats of every Ready node, asked in parallel; a node whose kubelet fails gets a warning and no stats. */
async function nodeUsage(ctx: CliContext, nodes: Node[], timeoutMs: number): Promise<NodeUsage[]> {
  const { isReady } = await printers();
  return Promise.all(
    nodes.map(async (node): Promise<NodeUsage> => {
      if (!isReady(node)) return { node };
      let kubelet: KubeletClient | undefined;
      try {
        kubelet = new KubeletClient(kubeletEndpoint(node), { timeoutMs });
        const stats: KubeletStats = await kubelet.stats();
        return { node, stats };
      } catch (err) {
        ctx.err(`Warning: no metrics from node ${JSON.stringify(node.metadata.name)}: ${(err as Error).message}\n`);
        return { node };
      } finally {
        kubelet?.close();
      }
    }),
  );
}

interface TopFlags extends NamespaceFlags {
  selector?: string;
  containers?: boolean;
}

export function registerTop(program: Command, ctx: CliContext): void {
  const top = program.command('top').description('live CPU and memory use of nodes and pods, from each node\'s kubelet');

  top
    .command('nodes')
    .alias('node')
    .alias('no')
    .description('CPU and memory of each node, and their share of its allocatable')
    .argument('[name]', 'only this node')
    .option('-l, --selector <selector>', 'label selector')
    .action(async (name: string | undefined, flags: TopFlags, c: Command) => {
      const output = ctx.globals(c).output;
      const usage = await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const nodes = name ? [await api.get('Node', undefined, name)] : (await api.list('Node', flags.selector ? { labelSelector: flags.selector } : {})).items;
        return nodeUsage(ctx, nodes, ctx.globals(c).timeout);
      });
      if (usage.length === 0) {
        ctx.err(noResourcesText(undefined, false));
        return;
      }
      if (output === 'json' || output === 'yaml') {
        const value = usage.map((u) => ({ name: u.node.metadata.name, ...(u.stats ? { usage: u.stats } : {}) }));
        ctx.out(output === 'json' ? toJson(value) : toYaml(value));
        return;
      }
      ctx.out((await printers()).topNodesTable(usage));
    });

  const pods = top
    .command('pods')
    .alias('pod')
    .alias('po')
    .description('CPU and memory of each pod (or each container with --containers)')
    .argument('[name]', 'only this pod');
  namespaceOptions(pods, { all: true })
    .option('-l, --selector <selector>', 'label selector')
    .option('--containers', 'one row per container')
    .action(async (name: string | undefined, flags: TopFlags, c: Command) => {
      if (name && flags.allNamespaces) throw new UsageError('top pods: a pod name cannot be given with --all-namespaces');
      const namespace = flags.allNamespaces ? undefined : namespaceOf(ctx, c, flags);
      const output = ctx.globals(c).output;
      const stats = await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const nodes = (await api.list('Node')).items;
        const usage = await nodeUsage(ctx, nodes, ctx.globals(c).timeout);
        let wanted: Set<string> | undefined;
        if (flags.selector) {
          const list = await api.list('Pod', { ...(namespace !== undefined ? { namespace } : {}), labelSelector: flags.selector });
          wanted = new Set(list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
        }
        return usage
          .flatMap((u) => u.stats?.pods ?? [])
          .filter((p) => (namespace === undefined || p.namespace === namespace) && (!name || p.name === name) && (!wanted || wanted.has(`${p.namespace}/${p.name}`)));
      });
      if (stats.length === 0) {
        if (name) throw new UsageError(`top pods: no metrics for pod ${JSON.stringify(name)} in namespace ${JSON.stringify(namespace)} (is it running on a Ready node?)`);
        ctx.err(noResourcesText(namespace, true));
        return;
      }
      if (output === 'json' || output === 'yaml') {
        ctx.out(output === 'json' ? toJson(stats) : toYaml(stats));
        return;
      }
      ctx.out((await printers()).topPodsTable(stats, { withNamespace: namespace === undefined, containers: flags.containers ?? false }));
    });
}
