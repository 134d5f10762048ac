// Finding and killing the pod processes an agent started. Agents put
// BRAMBLE_AGENT_DATA_DIR=<their data dir> into every container's environment, so
// processes that outlive their agent (a SIGKILLed agent leaves its pods running,
// as a kubelet does) can still be found and cleaned up by whoever started the agent.
import { readdirSync, readFileSync } from 'node:fs';

export const POD_MARKER_ENV = 'BRAMBLE_AGENT_DATA_DIR';

export interface PodProcessInfo {
  pid: number;
  pgid: number;
  /** BRAMBLE_POD_UID from its environment, when set. */
  podUid?: string;
}

function readEnviron(pid: number): Map<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    const env = new Map<string, string>();
    for (const entry of raw.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
  } catch {
    return undefined; // gone, or not ours
  }
}

/** /proc/<pid>/stat from the state field on: [state, ppid, pgrp, ...]. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) may contain spaces and parentheses: the rest starts after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every live process whose environment carries the marker of `agentDataDir` (zombies excluded). */
export function podProcesses(agentDataDir: string): PodProcessInfo[] {
  const found: PodProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const env = readEnviron(pid);
    if (env?.get(POD_MARKER_ENV) !== agentDataDir) continue;
    const fields = statFields(pid);
    if (!fields || fields[0] === 'Z') continue;
    found.push({ pid, pgid: Number(fields[2]), podUid: env.get('BRAMBLE_POD_UID') });
  }
  return found;
}

/** SIGKILL every process group holding a pod process of `agentDataDir`; returns how many processes were found. */
export function killPodProcesses(agentDataDir: string): number {
  const found = podProcesses(agentDataDir);
  for (const pgid of new Set(found.map((p) => p.pgid))) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return found.length;
}
