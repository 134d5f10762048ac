// Running the CLI in-process with captured output, a private config file and a fake Ctrl-C.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BrambleClient } from '@bramble/client';
import { run, type CliEnvironment } from '../src/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class CliHarness {
  readonly home = mkdtempSync(join(tmpdir(), 'bramble-cli-'));
  readonly env: Record<string, string | undefined> = {};
  private interruptHandlers = new Set<() => void>();

  /** Run `bramble ...args`; `stdin` is what the command reads from standard input. */
  async run(args: string[], opts: { stdin?: string; onStdout?: (all: string) => void } = {}): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const environment: CliEnvironment = {
      stdout: {
        write: (s: string) => {
          stdout += s;
          opts.onStdout?.(stdout);
          return true;
        },
      },
      stderr: { write: (s: string) => ((stderr += s), true) },
      stdin: Readable.from([Buffer.from(opts.stdin ?? '')]),
      env: this.env,
      homeDir: this.home,
      onInterrupt: (h) => {
        this.interruptHandlers.add(h);
        return () => this.interruptHandlers.delete(h);
      },
      createClient: (o) => new BrambleClient({ ...o, dialTimeoutMs: Math.min(o.dialTimeoutMs ?? 500, 500) }),
    };
    const code = await run(args, environment);
    return { code, stdout, stderr };
  }

  /** Simulate Ctrl-C. */
  interrupt(): void {
    for (const h of [...this.interruptHandlers]) h();
  }

  get interruptible(): boolean {
    return this.interruptHandlers.size > 0;
  }

  cleanup(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
