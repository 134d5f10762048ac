// bramble config get-contexts | current-context | use-context | set-cluster | set-context | set-credentials | view
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import {
  emptyConfig,
  parseServers,
  readConfig,
  redacted,
  setCluster,
  setContext,
  setCredentials,
  updateConfig,
  useContext,
  ConfigError,
} from '../config.js';
import { UsageError } from '../errors.js';
import { formatTable, toJson, toYaml } from '../output.js';

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description('edit the CLI config file (--config, else $BRAMBLE_CONFIG, else ~/.bramble/config): clusters, users, contexts');

  config
    .command('get-contexts')
    .description('list the contexts; * marks the current one')
    .action((_o: object, cmd: Command) => {
      const { path } = ctx.configPath(cmd);
      const cfg = readConfig(path);
      const output = ctx.globals(cmd).output;
      if (!cfg || cfg.contexts.length === 0) {
        if (output === 'table') {
          ctx.err(`No contexts found in ${path}${cfg ? '' : ' (file not found)'}.\n`);
          return;
        }
      }
      const current = cfg?.['current-context'];
      const contexts = cfg?.contexts ?? [];
      ctx.print(cmd, contexts.map((c) => ({ ...c, current: c.name === current })), () =>
        formatTable(
          ['CURRENT', 'NAME', 'CLUSTER', 'USER', 'NAMESPACE'],
          contexts.map((c) => [c.name === current ? '*' : '', c.name, c.context.cluster, c.context.user ?? '', c.context.namespace ?? '']),
        ),
      );
    });

  config
    .command('current-context')
    .description('print the current context')
    .action((_o: object, cmd: Command) => {
      const { path } = ctx.configPath(cmd);
      const cfg = readConfig(path);
      if (!cfg) throw new ConfigError(`config ${path}: file not found`);
      const current = cfg['current-context'];
      if (!current) throw new ConfigError(`config ${path}: current-context is not set`);
      ctx.out(`${current}\n`);
    });

  config
    .command('use-context')
    .description('make NAME the current context')
    .argument('<name>')
    .action((name: string, _o: object, cmd: Command) => {
      const { path } = ctx.configPath(cmd);
      const cfg = readConfig(path);
      if (!cfg) throw new ConfigError(`config ${path}: file not found`);
      updateConfig(path, (c) => useContext(c, name, path));
      ctx.out(`Switched to context ${JSON.stringify(name)}.\n`);
    });

  config
    .command('set-cluster')
    .description('create or update a cluster entry')
    .argument('<name>')
    // --server is the global option (as in kubectl): the root program parses it wherever it appears.
    .addHelpText('after', '\nRequired: --server HOST:PORT[,HOST:PORT...], the cluster\'s masters.')
    .action((name: string, _o: object, cmd: Command) => {
      const server = ctx.globals(cmd).server;
      if (server === undefined) throw new UsageError(`config set-cluster ${name}: --server HOST:PORT[,HOST:PORT...] is required`);
      const servers = parseServers(server);
      updateConfig(ctx.configPath(cmd).path, (c) => setCluster(c, name, servers));
      ctx.out(`Cluster ${JSON.stringify(name)} set.\n`);
    });

  config
    .command('set-context')
    .description('create or update a context (a cluster plus a user and namespace)')
    .argument('<name>')
    .option('--cluster <name>', 'the cluster (required for a new context)')
    .option('--user <name>', 'the user whose credentials to send')
    .option('--namespace <name>', 'default namespace')
    .action((name: string, o: { cluster?: string; user?: string; namespace?: string }, cmd: Command) => {
      const what = updateConfig(ctx.configPath(cmd).path, (c) => setContext(c, name, o));
      ctx.out(`Context ${JSON.stringify(name)} ${what}.\n`);
    });

  config
    .command('set-credentials')
    .description('create or update a user entry')
    .argument('<name>')
    .option('--token <token>', 'bearer token sent with every request')
    .action((name: string, o: { token?: string }, cmd: Command) => {
      updateConfig(ctx.configPath(cmd).path, (c) => setCredentials(c, name, o));
      ctx.out(`User ${JSON.stringify(name)} set.\n`);
    });

  config
    .command('view')
    .description('print the config (YAML unless -o json), tokens redacted')
    .option('--raw', 'show tokens')
    .action((o: { raw?: boolean }, cmd: Command) => {
      const { path } = ctx.configPath(cmd);
      const cfg = readConfig(path) ?? emptyConfig();
      const shown = o.raw ? cfg : redacted(cfg);
      ctx.out(ctx.globals(cmd).output === 'json' ? toJson(shown) : toYaml(shown));
    });
}
