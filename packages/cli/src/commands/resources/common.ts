// What every kubectl-like command shares: the Resources and Tokens APIs of a client,
// the namespace to work in (-n, else the context's, else "default"), and kind/name
// arguments (`pods a b`, `pod/a`, `deploy,svc`).
import { Command, Option } from 'commander';
import { DEFAULT_NAMESPACE, resolveKind, type KindInfo } from '@bramble/api';
import type { BrambleClient, ResourcesApi, TokensApi } from '@bramble/client';
import type { CliContext } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';

export function resourcesOf(client: BrambleClient): ResourcesApi {
  return client.resources;
}

export function tokensOf(client: BrambleClient): TokensApi {
  return client.tokens;
}

export interface NamespaceFlags {
  namespace?: string;
  allNamespaces?: boolean;
}

/** -n (and -A with `all`) on a command. */
export function namespaceOptions(cmd: Command, opts: { all?: boolean } = {}): Command {
  cmd.option('-n, --namespace <name>', 'the namespace (default: the context\'s, else "default")');
  if (opts.all) cmd.option('-A, --all-namespaces', 'every namespace');
  return cmd;
}

/** The namespace a command works in: -n, else the context's namespace, else "default". */
export function namespaceOf(ctx: CliContext, cmd: Command, flags: NamespaceFlags): string {
  if (flags.namespace !== undefined) {
    if (flags.namespace === '') throw new UsageError('--namespace: must not be empty');
    return flags.namespace;
  }
  return ctx.target(cmd).namespace ?? DEFAULT_NAMESPACE;
}

/** The kind a command-line word names, or kubectl's error for an unknown one. */
export function kindArg(word: string): KindInfo {
  const k = resolveKind(word);
  if (!k) throw new CliError(`the server doesn't have a resource type ${JSON.stringify(word)}`);
  return k;
}

export interface KindNames {
  kind: KindInfo;
  names: string[];
}

/**
 * `TYPE [NAME...]`, `TYPE/NAME [TYPE/NAME...]` or `TYPE1,TYPE2` (no names), grouped by
 * kind in the order given.
 */
export function parseKindNames(args: string[], opts: { requireNames?: boolean; command: string }): KindNames[] {
  if (args.length === 0) throw new UsageError(`${opts.command}: you must specify the type of resource (e.g. pods, deployments, nodes)`);
  if (args[0].includes('/')) {
    const groups: KindNames[] = [];
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) throw new UsageError(`${opts.command}: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got ${JSON.stringify(a)})`);
      const kind = kindArg(a.slice(0, slash));
      const name = a.slice(slash + 1);
      const g = groups.find((x) => x.kind.kind === kind.kind);
      if (g) g.names.push(name);
      else groups.push({ kind, names: [name] });
    }
    return groups;
  }
  const [typeWord, ...names] = args;
  const kinds = typeWord.split(',').filter((s) => s !== '').map(kindArg);
  if (kinds.length === 0) throw new UsageError(`${opts.command}: you must specify the type of resource`);
  if (kinds.length > 1 && names.length > 0) throw new UsageError(`${opts.command}: names cannot be given with several resource types; use TYPE/NAME`);
  for (const n of names) if (n.includes('/')) throw new UsageError(`${opts.command}: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got ${JSON.stringify(n)})`);
  if (opts.requireNames && names.length === 0) throw new UsageError(`${opts.command}: resource name(s) required, e.g. "${opts.command} ${typeWord} NAME"`);
  return kinds.map((kind) => ({ kind, names }));
}

/** A yes/no flag value as kubectl takes it: `--wait=false`. */
export function boolArg(value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`expected true or false, got ${JSON.stringify(value)}`);
}

export function boolOption(flags: string, description: string, defaultValue: boolean): Option {
  return new Option(flags, description).argParser((v: string) => boolArg(v)).default(defaultValue).preset(true);
}

/** The command-line --timeout when the user gave one (it also bounds waits), else `fallbackMs`. */
export function waitTimeoutMs(ctx: CliContext, cmd: Command, fallbackMs: number): number {
  let c: Command | null = cmd;
  while (c) {
    if (c.getOptionValueSource('timeout') === 'cli') return ctx.globals(cmd).timeout;
    c = c.parent;
  }
  return fallbackMs;
}

/** "No resources found in default namespace." / "No resources found" (kubectl's message for an empty list, on stderr). */
export function noResourcesText(namespace: string | undefined, namespaced: boolean): string {
  return namespaced && namespace !== undefined ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n';
}
