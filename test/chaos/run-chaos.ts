// Runs scripts/chaos as a child process the way a user does, and makes sure nothing it
// started outlives it: its masters live in a temp dir of our own (TMPDIR), so pgrep on that
// dir finds them; the child leads its own process group, so a stuck run is killed whole.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@bramble/testkit';
import type { Summary } from '../../scripts/src/chaos/report.js';

export interface ChaosRun {
  code: number | null;
  summary: Summary | undefined;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  reportDir: string;
  /** Processes found under the run's temp dir after it ended (each was then killed). */
  leftovers: string[];
  /** The run had to be killed at the deadline. */
  timedOut: boolean;
}

function processesUnder(dir: string): string[] {
  const r = spawnSync('pgrep', ['-a', '-f', dir], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** `scripts/chaos ARGS --report .bramble/chaos-tests/NAME`, bounded by `timeoutMs`. */
export async function runChaos(name: string, args: string[], timeoutMs: number): Promise<ChaosRun> {
  const tmp = mkdtempSync(join(tmpdir(), 'bramble-chaos-test-'));
  const reportDir = join(REPO_ROOT, '.bramble', 'chaos-tests', name);
  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(join(REPO_ROOT, '.bramble', 'chaos-tests'), { recursive: true });
  const started = performance.now();
  const child = spawn(join(REPO_ROOT, 'scripts/chaos'), [...args, '--report', reportDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, TMPDIR: tmp },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let timedOut = false;
  const group = child.pid!;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-group, signal);
    } catch {
      // the group is gone
    }
  };
  let code: number | null;
  try {
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const first = await Promise.race([exited, timer]);
    if (first === 'timeout') {
      timedOut = true;
      // The chaos tool stops its cluster on SIGTERM; whatever is still there after that goes with the group.
      signalGroup('SIGTERM');
      const late = await Promise.race([exited, new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 15_000).unref())]);
      if (late === 'stuck') signalGroup('SIGKILL');
      code = await exited;
    } else code = first;
  } finally {
    if (child.exitCode === null && child.signalCode === null) signalGroup('SIGKILL');
  }
  const elapsedMs = performance.now() - started;
  const leftovers = processesUnder(tmp);
  for (const line of leftovers) {
    const pid = Number(line.split(' ')[0]);
    try {
      process.kill(pid, 'SIGKILL'); // only processes whose command line names our temp dir
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  const line = stdout.trim().split('\n').filter(Boolean).pop();
  let summary: Summary | undefined;
  try {
    summary = line ? (JSON.parse(line) as Summary) : undefined;
  } catch {
    summary = undefined;
  }
  return { code, summary, stdout, stderr, elapsedMs, reportDir, leftovers, timedOut };
}

export function readReport(dir: string): { json: Record<string, any>; md: string } {
  const jsonFile = join(dir, 'report.json');
  const mdFile = join(dir, 'report.md');
  if (!existsSync(jsonFile) || !existsSync(mdFile)) throw new Error(`no report in ${dir}`);
  return { json: JSON.parse(readFileSync(jsonFile, 'utf8')), md: readFileSync(mdFile, 'utf8') };
}

/** The last lines of a run's stderr, for assertion messages. */
export function tail(run: ChaosRun, lines = 40): string {
  return run.stderr.trimEnd().split('\n').slice(-lines).join('\n');
}
