// Starting and stopping the supervised processes.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { isOurProcess, type ProcessRecord } from './state.js';

/** Start `args[0] args...` detached from us, output appended to `log`; returns its pid. */
export function spawnDetached(repo: string, args: string[], log: string): number {
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'a');
  try {
    // args[0] is the bramble bin: run it directly so the V8 flags in its shebang apply.
    const child = spawn(args[0], args.slice(1), { cwd: repo, detached: true, stdio: ['ignore', fd, fd] });
    if (!child.pid) throw new Error(`could not start node ${args.join(' ')}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Send `signal`, and for SIGTERM escalate to SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function stopProcess(rec: ProcessRecord, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<'stopped' | 'not running'> {
  if (!isOurProcess(rec)) return 'not running';
  try {
    process.kill(rec.pid, signal);
  } catch {
    return 'not running';
  }
  if (signal === 'SIGSTOP' || signal === 'SIGCONT') return 'stopped';
  try {
    await waitUntil(`${rec.name} (pid ${rec.pid}) to exit`, () => !isOurProcess(rec), graceMs);
  } catch {
    try {
      process.kill(rec.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await waitUntil(`${rec.name} (pid ${rec.pid}) to exit after SIGKILL`, () => !isOurProcess(rec), 5000);
  }
  return 'stopped';
}

/** Throws a clear error when `host:port` cannot be bound (in use, or not a local address). */
export async function assertPortFree(address: string, what: string): Promise<void> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `${what}: ${address} is already in use (another cluster? try --base-port, or 'scripts/cluster down')`
            : `${what}: cannot listen on ${address}: ${err.message}`,
        ),
      ),
    );
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}
