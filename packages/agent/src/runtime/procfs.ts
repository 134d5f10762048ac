/** What the runtime reads from /proc: process identity, process groups, memory and CPU. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** One-letter state: R, S, D, Z, T, ... */
  state: string;
  ppid: number;
  pgid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  cpuTicks: number;
  /** Field 22: start time after boot in clock ticks; with the pid it names one process instance. */
  startTime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may hold spaces and parentheses: field 3 starts after the last ')'.
  const f = raw.slice(raw.lastIndexOf(')') + 2).trim().split(' ');
  // f[0] is field 3, so field n is f[n - 3].
  const num = (n: number) => Number(f[n - 3]);
  return {
    pid,
    state: f[0],
    ppid: num(4),
    pgid: num(5),
    cpuTicks: num(14) + num(15) + num(16) + num(17),
    startTime: num(22),
  };
}

/** A process's environment (`/proc/<pid>/environ`), or undefined when it is gone or not ours to read. */
export function readEnviron(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** True when `pid` is alive (not a zombie) and is the instance that started at `startTime`. */
export function isSameProcess(pid: number, startTime: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z' && st.startTime === startTime;
}

/** Every live (non-zombie) process, grouped by process group id. */
export function processGroups(): Map<number, ProcStat[]> {
  const groups = new Map<number, ProcStat[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const st = readProcStat(pid);
    if (!st || st.state === 'Z') continue;
    const list = groups.get(st.pgid);
    if (list) list.push(st);
    else groups.set(st.pgid, [st]);
  }
  return groups;
}

/** Whether any live process is left in the group. Zombies do not count (they hold no resources and die with their reaper). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a member exists but is not ours; it still counts as alive.
  }
  return (processGroups().get(pgid)?.length ?? 0) > 0;
}

/** Signals a whole process group; false when it is already empty. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new Error(`cannot send ${signal} to process group ${pgid}: ${(err as Error).message}`);
  }
}

/** VmRSS of a process in bytes (0 for kernel threads or a process that just exited). */
export function rssBytes(pid: number): number {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(raw);
  return m ? Number(m[1]) * 1024 : 0;
}

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK`, read once (100 on practically every Linux). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isFinite(v) && v > 0 ? v : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}
