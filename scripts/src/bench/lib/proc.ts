// What /proc says about a process the benchmarks started (Linux only, as the benchmarks are).
import { readFileSync } from 'node:fs';

/** VmRSS in MB, or with `field` another line of /proc/<pid>/status (RssFile: pages mapped from files, mostly the node binary); 0 once it is gone. */
export function rssMb(pid: number, field = 'VmRSS'): number {
  try {
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by all of `pids` together. */
export function totalCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
}
