// What every command needs: where to print, the global options, the config file, and a
// client for the selected cluster. Tests build one with captured output.
import { homedir } from 'node:os';
import type { Command } from 'commander';
import pino from 'pino';
import { BrambleClient, type ClientLogger, type ClientOptions } from '@bramble/client';
import { resolveConfigPath, resolveTarget, type Target } from './config.js';
import { render, type OutputFormat } from './output.js';

export interface Writer {
  write(text: string): unknown;
}

export interface CliEnvironment {
  stdout: Writer;
  stderr: Writer;
  stdin: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
  homeDir: string;
  /** Call `handler` on Ctrl-C (SIGINT/SIGTERM); returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
  /** How clients are made (tests can pass extra options). */
  createClient(opts: ClientOptions): BrambleClient;
}

/** The global options every command sees (from the root program). */
export interface GlobalOptions {
  server?: string;
  context?: string;
  config?: string;
  output: OutputFormat;
  /** --timeout, in ms. */
  timeout: number;
  verbose?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_DIAL_TIMEOUT_MS = 2_000;

export function processEnvironment(): CliEnvironment {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    homeDir: homedir(),
    onInterrupt(handler) {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
    createClient: (opts) => new BrambleClient(opts),
  };
}

export class CliContext {
  constructor(readonly environment: CliEnvironment) {}

  out(text: string): void {
    this.environment.stdout.write(text);
  }

  err(text: string): void {
    this.environment.stderr.write(text);
  }

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals<GlobalOptions>();
  }

  /** The config file this invocation reads and writes. */
  configPath(cmd: Command): { path: string; explicit: boolean } {
    return resolveConfigPath(this.globals(cmd).config, this.environment.env, this.environment.homeDir);
  }

  /** Servers and credentials selected by --server / --context / current-context. */
  target(cmd: Command): Target {
    const g = this.globals(cmd);
    return resolveTarget({ server: g.server, context: g.context, config: g.config }, this.environment.env, this.environment.homeDir);
  }

  /** A client for the selected cluster, closed when `fn` settles. */
  async withClient<T>(cmd: Command, fn: (client: BrambleClient) => Promise<T>): Promise<T> {
    const g = this.globals(cmd);
    const target = this.target(cmd);
    const client = this.environment.createClient({
      endpoints: target.servers,
      requestTimeoutMs: g.timeout,
      dialTimeoutMs: Math.min(DEFAULT_DIAL_TIMEOUT_MS, g.timeout),
      ...(target.token ? { token: target.token } : {}),
      ...(g.verbose ? { logger: this.logger() } : {}),
    });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  /** Print `value` in the -o format, `table()` for the table form. */
  print(cmd: Command, value: unknown, table: () => string): void {
    this.out(render(this.globals(cmd).output, value, table));
  }

  readStdin(): Promise<string> {
    const stdin = this.environment.stdin;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      stdin.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
      stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      stdin.on('error', reject);
    });
  }

  private logger(): ClientLogger {
    const stderr = this.environment.stderr;
    return pino({ level: 'debug', base: { component: 'client' } }, { write: (s: string) => stderr.write(s) });
  }
}
