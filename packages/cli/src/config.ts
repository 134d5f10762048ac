// The CLI's config file, shaped like a kubeconfig:
//
//   apiVersion: bramble/v1
//   kind: Config
//   clusters: [{ name, cluster: { servers: [host:port, ...] } }]
//   users:    [{ name, user: { token? } }]
//   contexts: [{ name, context: { cluster, user?, namespace? } }]
//   current-context: NAME
//
// Location: --config, else $BRAMBLE_CONFIG, else ~/.bramble/config.
// Which servers to talk to: --server, else the context named by --context, else current-context.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { yamlLibrary } from '@bramble/api';
import { checkEndpoint } from '@bramble/client';
import { CliError, UsageError } from './errors.js';

export const CONFIG_API_VERSION = 'bramble/v1';
export const CONFIG_KIND = 'Config';
export const CONFIG_ENV = 'BRAMBLE_CONFIG';

export interface ClusterEntry {
  name: string;
  cluster: { servers: string[]; [extra: string]: unknown };
}

export interface UserEntry {
  name: string;
  user: { token?: string; [extra: string]: unknown };
}

export interface ContextEntry {
  name: string;
  context: { cluster: string; user?: string; namespace?: string; [extra: string]: unknown };
}

export interface BrambleConfig {
  apiVersion: string;
  kind: string;
  clusters: ClusterEntry[];
  users: UserEntry[];
  contexts: ContextEntry[];
  'current-context'?: string;
  [extra: string]: unknown;
}

/** A problem with the config file; the message starts with `config <path>:`. */
export class ConfigError extends CliError {}

export function emptyConfig(): BrambleConfig {
  return { apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, clusters: [], users: [], contexts: [] };
}

/** The default config path: $BRAMBLE_CONFIG, else ~/.bramble/config. */
export function defaultConfigPath(env: Record<string, string | undefined> = process.env, home: string = homedir()): string {
  return env[CONFIG_ENV] || join(home, '.bramble', 'config');
}

/** --config wins over the default; `explicit` says the file was named by --config (then it must exist to be read). */
export function resolveConfigPath(
  flag: string | undefined,
  env: Record<string, string | undefined> = process.env,
  home: string = homedir(),
): { path: string; explicit: boolean } {
  if (flag) return { path: flag, explicit: true };
  return { path: defaultConfigPath(env, home), explicit: false };
}

/** "a:1, b:2" -> ["a:1", "b:2"], each checked to be HOST:PORT. */
export function parseServers(list: string, what = '--server'): string[] {
  const servers = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new UsageError(`${what}: expected HOST:PORT[,HOST:PORT...], got ${JSON.stringify(list)}`);
  for (const s of servers) checkServer(s, what, UsageError);
  return servers;
}

function checkServer(s: string, what: string, Err: new (m: string) => Error): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) throw new Err(`${what}: ${JSON.stringify(s)} is not HOST:PORT (drop the ${scheme[1]}:// scheme)`);
  try {
    checkEndpoint(s, what);
  } catch {
    throw new Err(`${what}: ${JSON.stringify(s)} is not HOST:PORT`);
  }
}

// ------------------------------------------------------------------ reading and writing

/** The parsed config, or undefined when the file does not exist. */
export function readConfig(path: string): BrambleConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`config ${path}: cannot read it: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

/** Parse and check a config file's text; errors name the file and the field. */
export function parseConfig(text: string, path: string): BrambleConfig {
  let doc: unknown;
  try {
    doc = yamlLibrary().parse(text);
  } catch (err) {
    throw new ConfigError(`config ${path}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return emptyConfig();
  const fail = (field: string, what: string, got: unknown): never => {
    throw new ConfigError(`config ${path}: ${field}: ${what} (got ${describe(got)})`);
  };
  if (typeof doc !== 'object' || Array.isArray(doc)) return fail('(top level)', 'must be a mapping', doc);
  const d = doc as Record<string, unknown>;
  if (d.apiVersion !== undefined && d.apiVersion !== CONFIG_API_VERSION) fail('apiVersion', `must be ${CONFIG_API_VERSION}`, d.apiVersion);
  if (d.kind !== undefined && d.kind !== CONFIG_KIND) fail('kind', `must be ${CONFIG_KIND}`, d.kind);

  const list = (field: string): Record<string, unknown>[] => {
    const v = d[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return fail(field, 'must be a list', v);
    const seen = new Set<string>();
    return v.map((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail(`${field}[${i}]`, 'must be a mapping', item);
      const e = item as Record<string, unknown>;
      if (typeof e.name !== 'string' || e.name === '') fail(`${field}[${i}].name`, 'must be a non-empty string', e.name);
      if (seen.has(e.name as string)) fail(`${field}[${i}].name`, 'duplicate name', e.name);
      seen.add(e.name as string);
      return e;
    });
  };
  const inner = (e: Record<string, unknown>, field: string, key: string): Record<string, unknown> => {
    const v = e[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) return fail(`${field}.${key}`, 'must be a mapping', v);
    return v as Record<string, unknown>;
  };
  const optString = (v: unknown, field: string): void => {
    if (v !== undefined && typeof v !== 'string') fail(field, 'must be a string', v);
  };

  const clusters = list('clusters').map((e, i): ClusterEntry => {
    const f = `clusters[${i}].cluster`;
    const c = inner(e, `clusters[${i}]`, 'cluster');
    if (!Array.isArray(c.servers) || c.servers.length === 0) fail(`${f}.servers`, 'must be a non-empty list of HOST:PORT', c.servers);
    (c.servers as unknown[]).forEach((s, j) => {
      if (typeof s !== 'string') fail(`${f}.servers[${j}]`, 'must be HOST:PORT', s);
      checkServer(s as string, `config ${path}: ${f}.servers[${j}]`, ConfigError);
    });
    return { ...e, name: e.name as string, cluster: { ...c, servers: c.servers as string[] } };
  });
  const users = list('users').map((e, i): UserEntry => {
    const u = inner(e, `users[${i}]`, 'user');
    optString(u.token, `users[${i}].user.token`);
    return { ...e, name: e.name as string, user: u };
  });
  const contexts = list('contexts').map((e, i): ContextEntry => {
    const f = `contexts[${i}].context`;
    const c = inner(e, `contexts[${i}]`, 'context');
    if (typeof c.cluster !== 'string' || c.cluster === '') fail(`${f}.cluster`, 'must be a non-empty string', c.cluster);
    optString(c.user, `${f}.user`);
    optString(c.namespace, `${f}.namespace`);
    return { ...e, name: e.name as string, context: { ...c, cluster: c.cluster as string } };
  });
  const current = d['current-context'];
  if (current !== undefined && current !== null && typeof current !== 'string') fail('current-context', 'must be a string', current);
  const cfg: BrambleConfig = { ...d, apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, clusters, users, contexts };
  if (typeof current === 'string' && current !== '') cfg['current-context'] = current;
  else delete cfg['current-context'];
  return cfg;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

/** Write atomically (temp file + rename), readable only by the user: it may hold tokens. */
export function writeConfig(path: string, cfg: BrambleConfig): void {
  const { apiVersion, kind, clusters, users, contexts, 'current-context': current, ...rest } = cfg;
  const ordered: Record<string, unknown> = { apiVersion, kind, clusters, users, contexts };
  if (current) ordered['current-context'] = current;
  Object.assign(ordered, rest);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, yamlLibrary().stringify(ordered), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    throw new ConfigError(`config ${path}: cannot write it: ${(err as Error).message}`);
  }
}

/** Read, change, write back; a missing file starts empty. */
export function updateConfig<T>(path: string, change: (cfg: BrambleConfig) => T): T {
  const cfg = readConfig(path) ?? emptyConfig();
  const result = change(cfg);
  writeConfig(path, cfg);
  return result;
}

// ------------------------------------------------------------------ edits

export function setCluster(cfg: BrambleConfig, name: string, servers: string[]): void {
  const existing = cfg.clusters.find((c) => c.name === name);
  if (existing) existing.cluster = { ...existing.cluster, servers };
  else cfg.clusters.push({ name, cluster: { servers } });
}

/** Create or update a context; returns whether it was created. */
export function setContext(cfg: BrambleConfig, name: string, fields: { cluster?: string; user?: string; namespace?: string }): 'created' | 'modified' {
  const existing = cfg.contexts.find((c) => c.name === name);
  const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  if (existing) {
    existing.context = { ...existing.context, ...set };
    return 'modified';
  }
  if (!fields.cluster) throw new UsageError(`set-context ${name}: a new context needs --cluster`);
  cfg.contexts.push({ name, context: { cluster: fields.cluster, ...set } });
  return 'created';
}

export function setCredentials(cfg: BrambleConfig, name: string, fields: { token?: string }): void {
  const existing = cfg.users.find((u) => u.name === name);
  const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  if (existing) existing.user = { ...existing.user, ...set };
  else cfg.users.push({ name, user: set });
}

export function useContext(cfg: BrambleConfig, name: string, path: string): void {
  if (!cfg.contexts.some((c) => c.name === name)) throw new ConfigError(`config ${path}: no context named ${JSON.stringify(name)}${known(cfg.contexts)}`);
  cfg['current-context'] = name;
}

function known(entries: { name: string }[]): string {
  return entries.length === 0 ? ' (there are none)' : ` (known: ${entries.map((e) => e.name).join(', ')})`;
}

/**
 * Create or update cluster `name` with `servers` and a context `name` pointing at it,
 * and make it the current context. The cluster supervisor calls this to write the
 * `local` context after starting masters.
 */
export function writeContext(configPath: string, opts: { name: string; servers: string[]; user?: string; namespace?: string }): void {
  if (!opts.name) throw new TypeError('writeContext: name must be a non-empty string');
  if (opts.servers.length === 0) throw new TypeError(`writeContext ${opts.name}: servers must not be empty`);
  opts.servers.forEach((s, i) => checkServer(s, `writeContext ${opts.name}: servers[${i}]`, TypeError));
  updateConfig(configPath, (cfg) => {
    setCluster(cfg, opts.name, [...opts.servers]);
    setContext(cfg, opts.name, { cluster: opts.name, user: opts.user, namespace: opts.namespace });
    cfg['current-context'] = opts.name;
  });
}

// ------------------------------------------------------------------ resolving a target

export interface Target {
  servers: string[];
  token?: string;
  namespace?: string;
  /** The context used, if any. */
  context?: string;
  /** Where the servers came from, for messages: `--server` or `context "x" in FILE`. */
  source: string;
}

export interface TargetFlags {
  server?: string;
  context?: string;
  config?: string;
}

/**
 * Where to connect: --server, else --context, else current-context (servers of that
 * context's cluster). Credentials and namespace come from the selected context even
 * when --server overrides the servers.
 */
export function resolveTarget(flags: TargetFlags, env: Record<string, string | undefined> = process.env, home: string = homedir()): Target {
  const { path, explicit } = resolveConfigPath(flags.config, env, home);
  const override = flags.server !== undefined ? parseServers(flags.server) : undefined;
  const exists = existsSync(path);
  if (!exists) {
    if (override && !explicit && !flags.context) return { servers: override, source: '--server' };
    if (explicit || flags.context) throw new ConfigError(`config ${path}: file not found`);
    throw new ConfigError(
      `no server to talk to: config file ${path} not found; pass --server HOST:PORT, or create a context with "bramble config set-cluster" and "bramble config set-context"`,
    );
  }
  const cfg = readConfig(path) ?? emptyConfig();
  const contextName = flags.context ?? cfg['current-context'];
  if (!contextName) {
    if (override) return { servers: override, source: '--server' };
    throw new ConfigError(`config ${path}: no current-context set; pass --context NAME or --server HOST:PORT, or run "bramble config use-context NAME"`);
  }
  const ctx = cfg.contexts.find((c) => c.name === contextName);
  if (!ctx) throw new ConfigError(`config ${path}: context ${JSON.stringify(contextName)} not found${known(cfg.contexts)}`);
  const user = ctx.context.user ? cfg.users.find((u) => u.name === ctx.context.user) : undefined;
  if (ctx.context.user && !user) throw new ConfigError(`config ${path}: context ${JSON.stringify(contextName)} names user ${JSON.stringify(ctx.context.user)}, which is not defined${known(cfg.users)}`);
  const extras = {
    context: contextName,
    ...(user?.user.token ? { token: user.user.token } : {}),
    ...(ctx.context.namespace ? { namespace: ctx.context.namespace } : {}),
  };
  if (override) return { servers: override, source: '--server', ...extras };
  const cluster = cfg.clusters.find((c) => c.name === ctx.context.cluster);
  if (!cluster) throw new ConfigError(`config ${path}: context ${JSON.stringify(contextName)} names cluster ${JSON.stringify(ctx.context.cluster)}, which is not defined${known(cfg.clusters)}`);
  return { servers: [...cluster.cluster.servers], source: `context ${JSON.stringify(contextName)} in ${path}`, ...extras };
}

/** The config with tokens replaced by REDACTED (for `config view` without --raw). */
export function redacted(cfg: BrambleConfig): BrambleConfig {
  return { ...cfg, users: cfg.users.map((u) => (u.user.token ? { ...u, user: { ...u.user, token: 'REDACTED' } } : u)) };
}
