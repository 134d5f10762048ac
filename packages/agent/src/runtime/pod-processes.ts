/**
 * Finding and killing the pod processes an agent started, from outside the agent: every
 * container's environment carries BRAMBLE_AGENT_DATA_DIR=<the agent's data dir>, so
 * processes that outlive their agent (a SIGKILLed agent leaves its pods running, as a
 * kubelet does) can still be cleaned up by whoever started the agent (supervisor, tests).
 */
import { AGENT_MARKER_ENV, POD_UID_ENV } from './env.js';
import { processGroups, readEnviron } from './procfs.js';

export interface PodProcessInfo {
  pid: number;
  pgid: number;
  /** BRAMBLE_POD_UID from its environment, when set. */
  podUid?: string;
}

/** Every live process whose environment carries the marker of `agentDataDir` (zombies excluded). */
export function podProcesses(agentDataDir: string): PodProcessInfo[] {
  const found: PodProcessInfo[] = [];
  for (const members of processGroups().values()) {
    for (const p of members) {
      if (p.pid === process.pid) continue;
      const env = readEnviron(p.pid);
      if (env?.get(AGENT_MARKER_ENV) !== agentDataDir) continue;
      found.push({ pid: p.pid, pgid: p.pgid, podUid: env.get(POD_UID_ENV) });
    }
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
