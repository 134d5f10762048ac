// `logs POD [-c C] [-f] [--tail N] [-p]`: find the pod's node and that node's kubelet,
// then stream the container's log from it to stdout (until Ctrl-C with -f).
import { Command } from 'commander';
import { KubeletClient } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { nonNegativeIntArg } from '../args.js';
import { namespaceOf, namespaceOptions, resourcesOf, type NamespaceFlags } from './common.js';
import { kubeletEndpoint } from './kubelet.js';

interface LogsFlags extends NamespaceFlags {
  container?: string;
  follow?: boolean;
  tail?: number;
  previous?: boolean;
}

/** `web-1`, `pod/web-1` or `pods/web-1`: the pod name. */
function podName(arg: string): string {
  const slash = arg.indexOf('/');
  if (slash < 0) return arg;
  const type = arg.slice(0, slash).toLowerCase();
  if (!['pod', 'pods', 'po'].includes(type)) throw new UsageError(`logs: only pods have logs (got ${JSON.stringify(arg)})`);
  return arg.slice(slash + 1);
}

export function registerLogs(program: Command, ctx: CliContext): void {
  const cmd = program.command('logs').description("print a pod container's log, from the node it runs on").argument('<pod>', 'POD or pod/POD');
  namespaceOptions(cmd)
    .option('-c, --container <name>', 'the container (default: the only one, or the first)')
    .option('-f, --follow', 'keep printing new output until Ctrl-C')
    .option('--tail <lines>', 'only the last N lines', nonNegativeIntArg)
    .option('-p, --previous', "the previous instance's log (after a restart)")
    .action(async (arg: string, flags: LogsFlags, c: Command) => {
      const name = podName(arg);
      const namespace = namespaceOf(ctx, c, flags);
      const { endpoint, container } = await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        const pod = await api.get('Pod', namespace, name);
        const containers = (pod.spec.containers ?? []).map((x) => x.name);
        let container = flags.container;
        if (container === undefined) {
          container = containers[0];
          if (containers.length > 1) ctx.err(`Defaulted container ${JSON.stringify(container)} out of: ${containers.join(', ')}\n`);
        } else if (!containers.includes(container)) {
          throw new CliError(`container ${container} is not valid for pod ${name}`);
        }
        if (!pod.spec.nodeName) throw new CliError(`pod ${JSON.stringify(name)} is not scheduled to a node yet: it has no logs`);
        const node = await api.get('Node', undefined, pod.spec.nodeName);
        return { endpoint: kubeletEndpoint(node), container };
      });
      const timeoutMs = ctx.globals(c).timeout;
      const kubelet = new KubeletClient(endpoint, { timeoutMs });
      try {
        const handle = kubelet.logs(
          {
            namespace,
            pod: name,
            ...(container !== undefined ? { container } : {}),
            follow: flags.follow ?? false,
            ...(flags.tail !== undefined ? { tailLines: flags.tail } : {}),
            previous: flags.previous ?? false,
          },
          (data) => ctx.out(data.toString('utf8')),
        );
        const off = ctx.environment.onInterrupt(() => handle.cancel());
        try {
          await handle.done;
        } finally {
          off();
        }
      } finally {
        kubelet.close();
      }
    });
}
