export { buildProgram, run, reportError, COMMAND_GROUPS, type CommandGroup } from './program.js';
export { CliContext, processEnvironment, type CliEnvironment, type GlobalOptions, type Writer } from './context.js';
export {
  writeContext,
  readConfig,
  writeConfig,
  parseConfig,
  resolveTarget,
  resolveConfigPath,
  defaultConfigPath,
  emptyConfig,
  parseServers,
  ConfigError,
  CONFIG_ENV,
  type BrambleConfig,
  type Target,
} from './config.js';
export { CliError, UsageError } from './errors.js';
export { parseTxn, TxnParseError } from './txn-parser.js';
export { formatTable, type OutputFormat } from './output.js';
export { parseDurationMs, formatDurationMs } from './duration.js';
