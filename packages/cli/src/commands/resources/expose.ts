// `expose TYPE NAME --port P`: a Service selecting the pods of a Deployment, ReplicaSet,
// DaemonSet, Pod or Service (kubectl expose). The selector is the workload's matchLabels
// (a pod's labels, a service's selector); the Service carries the workload's labels.
// Without --port the container ports of the pod template become the Service's ports.
import { Command, InvalidArgumentError } from 'commander';
import { isApiError, isIanaSvcName, type Container, type Resource, type Service, type ServicePort } from '@bramble/api';
import type { CliContext } from '../../context.js';
import { toJson, toYaml } from '../../output.js';
import { CliError, UsageError } from '../../errors.js';
import { KubectlError, serverErrorText } from '../../printers/errors.js';
import { objectRef } from '../../printers/names.js';
import { namespaceOf, namespaceOptions, parseKindNames, resourcesOf, type NamespaceFlags } from './common.js';

const EXPOSABLE = new Set(['Deployment', 'ReplicaSet', 'DaemonSet', 'Pod', 'Service']);

interface ExposeFlags extends NamespaceFlags {
  port?: number;
  targetPort?: string;
  type?: string;
  nodePort?: number;
  name?: string;
  protocol?: string;
  dryRun?: boolean;
}

function portArg(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new InvalidArgumentError('expected a port number (1-65535).');
  return Number(value);
}

/** A target port: a number, or a container port name. */
function targetPortOf(value: string): number | string {
  if (/^\d+$/.test(value)) return portArg(value);
  if (isIanaSvcName(value).length > 0) throw new UsageError(`--target-port: ${JSON.stringify(value)} is neither a port number nor a port name`);
  return value;
}

interface Introspected {
  selector: Record<string, string>;
  labels: Record<string, string> | undefined;
  containers: Container[];
}

/** Selector, labels and containers of the object to expose; kubectl's message when it has no usable selector. */
export function introspect(obj: Resource): Introspected {
  const what = objectRef(obj);
  const record = obj as unknown as { spec?: Record<string, unknown>; metadata: { labels?: Record<string, string> } };
  const spec = record.spec ?? {};
  if (obj.kind === 'Pod') {
    const labels = obj.metadata.labels ?? {};
    if (Object.keys(labels).length === 0) throw new CliError(`couldn't retrieve selectors via --selector flag or introspection: the pod ${obj.metadata.name} has no labels`);
    return { selector: labels, labels, containers: (spec.containers as Container[] | undefined) ?? [] };
  }
  if (obj.kind === 'Service') {
    const selector = (spec.selector as Record<string, string> | undefined) ?? {};
    if (Object.keys(selector).length === 0) throw new CliError(`couldn't retrieve selectors via --selector flag or introspection: ${what} has no selector`);
    return { selector, labels: obj.metadata.labels, containers: [] };
  }
  const sel = spec.selector as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined;
  if ((sel?.matchExpressions ?? []).length > 0) {
    throw new CliError(`couldn't retrieve selectors via --selector flag or introspection: ${what} uses matchExpressions, which a Service selector cannot express`);
  }
  const selector = sel?.matchLabels ?? {};
  if (Object.keys(selector).length === 0) throw new CliError(`couldn't retrieve selectors via --selector flag or introspection: ${what} has no matchLabels`);
  const template = spec.template as { spec?: { containers?: Container[] } } | undefined;
  return { selector, labels: obj.metadata.labels, containers: template?.spec?.containers ?? [] };
}

/** The Service's ports: --port (and --target-port), else every container port of the template. */
function servicePorts(flags: ExposeFlags, from: Introspected, what: string): ServicePort[] {
  const protocol = 'TCP' as const;
  const nodePort = flags.nodePort !== undefined ? { nodePort: flags.nodePort } : {};
  if (flags.port !== undefined) {
    const targetPort = flags.targetPort !== undefined ? targetPortOf(flags.targetPort) : flags.port;
    return [{ port: flags.port, protocol, targetPort, ...nodePort }];
  }
  if (flags.targetPort !== undefined) throw new UsageError('expose: --target-port needs --port');
  const declared = from.containers.flatMap((c) => c.ports ?? []);
  if (declared.length === 0) throw new CliError(`couldn't find port via --port flag or introspection: ${what} declares no container ports`);
  if (declared.length > 1 && flags.nodePort !== undefined) throw new UsageError('expose: --node-port needs a single port; give --port');
  return declared.map((p, i) => ({
    ...(declared.length > 1 ? { name: p.name ?? `port-${i + 1}` } : {}),
    port: p.containerPort,
    protocol,
    targetPort: p.containerPort,
    ...nodePort,
  }));
}

export function registerExpose(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('expose')
    .description('create a Service for a deployment, replicaset, daemonset, pod or service: expose deployment web --port 8080 --type NodePort')
    .argument('<type-or-name...>', 'TYPE NAME or TYPE/NAME');
  namespaceOptions(cmd)
    .option('--port <port>', "the Service's port (reserved cluster-wide; every node's proxy listens on it)", portArg)
    .option('--target-port <port>', 'the container port (number or name) the Service sends to; default: --port')
    .option('--type <type>', 'ClusterIP (default) or NodePort')
    .option('--node-port <port>', 'with --type NodePort: the node port (30000-32767); default: allocated', portArg)
    .option('--name <name>', "the Service's name; default: the exposed object's")
    .option('--protocol <protocol>', 'only TCP')
    .option('--dry-run', 'validate and default on the server without storing anything')
    .action(async (args: string[], flags: ExposeFlags, c: Command) => {
      const groups = parseKindNames(args, { command: 'expose', requireNames: true });
      if (groups.length !== 1 || groups[0].names.length !== 1) throw new UsageError('expose: exactly one object to expose, e.g. "expose deployment web --port 8080"');
      const { kind, names } = groups[0];
      if (!EXPOSABLE.has(kind.kind)) throw new CliError(`cannot expose a ${kind.kind}: only deployments, replicasets, daemonsets, pods and services can be exposed`);
      const type = flags.type ?? (flags.nodePort !== undefined ? 'NodePort' : 'ClusterIP');
      if (type !== 'ClusterIP' && type !== 'NodePort') throw new UsageError(`--type: Unsupported value: ${JSON.stringify(type)}: supported values: "ClusterIP", "NodePort"`);
      if (flags.nodePort !== undefined && type !== 'NodePort') throw new UsageError('--node-port is only for --type NodePort');
      if (flags.protocol !== undefined && flags.protocol !== 'TCP') throw new UsageError(`--protocol: Unsupported value: ${JSON.stringify(flags.protocol)}: supported values: "TCP"`);
      const namespace = namespaceOf(ctx, c, flags);
      const output = ctx.globals(c).output;
      await ctx.withClient(c, async (client) => {
        const api = resourcesOf(client);
        let created: Service;
        try {
          const target = await api.get(kind.kind, namespace, names[0]);
          const from = introspect(target);
          const svc: Service = {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: flags.name ?? names[0], namespace, ...(from.labels && Object.keys(from.labels).length > 0 ? { labels: from.labels } : {}) },
            spec: { type, selector: from.selector, ports: servicePorts(flags, from, objectRef(target)) },
          };
          created = await api.create(svc, { dryRun: flags.dryRun ?? false });
        } catch (err) {
          if (!isApiError(err)) throw err;
          throw new KubectlError(serverErrorText(err));
        }
        if (output === 'json') ctx.out(toJson(created));
        else if (output === 'yaml') ctx.out(toYaml(created));
        else if (output === 'name') ctx.out(`${objectRef(created)}\n`);
        else ctx.out(`${objectRef(created)} exposed${flags.dryRun ? ' (server dry run)' : ''}\n`);
      });
    });
}
