// The `bramble` command: global options, the command groups, and turning failures into
// one `error: ...` line and an exit code (1 = the operation failed, 2 = bad usage).
import { registerMasterCommand } from './commands/master.js';
import { registerAgentCommand } from './commands/agent.js';
import { registerResourceCommands } from './commands/resources.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { BrambleError } from '@bramble/client';
import { registerClusterCommands } from './commands/cluster.js';
import { registerConfigCommands } from './commands/config.js';
import { registerKvCommands } from './commands/kv.js';
import { registerLeaseCommands } from './commands/lease.js';
import { durationMsArg } from './commands/args.js';
import { CliContext, DEFAULT_TIMEOUT_MS, processEnvironment, type CliEnvironment } from './context.js';
import { CliError } from './errors.js';
import { OUTPUT_FORMATS } from './output.js';
import { kubectlErrorText } from './printers/errors.js';

/**
 * A command group adds its subcommands to the root program. Each lives in its own
 * module under src/commands/ and is listed in COMMAND_GROUPS, in help order.
 * (The master/agent groups go in src/commands/master.ts, registered the same way.)
 */
export type CommandGroup = (program: Command, ctx: CliContext) => void;

export const COMMAND_GROUPS: CommandGroup[] = [
  registerResourceCommands,
  registerKvCommands,
  registerLeaseCommands,
  registerClusterCommands,
  registerConfigCommands,
  registerMasterCommand,
  registerAgentCommand,
];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(environment: CliEnvironment = processEnvironment(), groups: CommandGroup[] = COMMAND_GROUPS): Command {
  const ctx = new CliContext(environment);
  const program = new Command('bramble')
    .description('Drive a Bramble cluster: workloads and nodes (kubectl-style), the replicated key-value store, leases, masters and agents.')
    .version(version(), '--version')
    .option('--server <host:port,...>', 'masters to talk to (overrides the config)')
    .option('--context <name>', 'the config context to use (default: current-context)')
    .option('--config <file>', 'config file (default: $BRAMBLE_CONFIG, else ~/.bramble/config)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('--timeout <duration>', 'deadline of each request, failover included').argParser(durationMsArg).default(DEFAULT_TIMEOUT_MS, '5s'))
    .option('-v, --verbose', 'log retries and endpoint switches to stderr')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (s) => environment.stdout.write(s),
      writeErr: (s) => environment.stderr.write(s),
    });
  for (const register of groups) register(program, ctx);
  return program;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function run(argv: string[], environment: CliEnvironment = processEnvironment(), groups: CommandGroup[] = COMMAND_GROUPS): Promise<number> {
  const program = buildProgram(environment, groups);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, environment, argv.includes('-v') || argv.includes('--verbose'));
  }
}

/** Print `err` as one line (plus a stack for unexpected errors with --verbose) and pick the exit code. */
export function reportError(err: unknown, environment: CliEnvironment, verbose = false): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or help/version).
    if (err.exitCode === 0) return 0;
    return 2;
  }
  // API errors and kubectl-style failures print as kubectl does (`Error from server (NotFound): ...`).
  const kubectlText = kubectlErrorText(err);
  if (kubectlText !== undefined) {
    environment.stderr.write(kubectlText);
    return err instanceof CliError ? err.exitCode : 1;
  }
  if (err instanceof CliError) {
    environment.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof BrambleError) {
    environment.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  environment.stderr.write(`error: ${e.message}\n`);
  if (verbose && e.stack) environment.stderr.write(`${e.stack}\n`);
  return 1;
}
