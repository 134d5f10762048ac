/**
 * Finding and killing the pod processes an agent started, from outside the agent: every
 * container's environment carries BRAMBLE_AGENT_DATA_DIR=<the agent's data dir>, so
 * processes that outlive their agent (a SIGKILLed agent leaves its pods running, as a
 * kubelet does) can still be cleaned up by whoever started the agent (supervisor, tests).
 * Some programs overwrite their environment block when they set their process title
 * (redis-server does), so the container process groups recorded in the agent's state file
 * (leader pid + start time still matching) count too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MARKER_ENV, POD_UID_ENV } from './env.js';
import { isSameProcess, processGroups, readEnviron } from './procfs.js';
import { STATE_FILE, type RuntimeStateFile } from './state-store.js';

export interface PodProcessInfo {
  pid: number;
  pgid: number;
  /** BRAMBLE_POD_UID from its environment, when set. */
  podUid?: string;
}

/** pgid -> pod uid for the container groups in the agent's state file whose leader is still the recorded process. */
function recordedGroups(agentDataDir: string): Map<number, string> {
  const out = new Map<number, string>();
  let state: Partial<RuntimeStateFile>;
  try {
    state = JSON.parse(readFileSync(join(agentDataDir, STATE_FILE), 'utf8')) as Partial<RuntimeStateFile>;
  } catch {
    return out; // no state file (yet), or one being replaced: the environment marker still works
  }
  for (const pod of Array.isArray(state.pods) ? state.pods : []) {
    for (const c of pod.containers ?? []) {
      if (c.pid !== undefined && c.procStartTime !== undefined && isSameProcess(c.pid, c.procStartTime)) out.set(c.pgid ?? c.pid, pod.uid);
    }
  }
  return out;
}

/** Every live process of a pod of `agentDataDir` (zombies excluded): by environment marker or recorded process group. */
export function podProcesses(agentDataDir: string): PodProcessInfo[] {
  const found: PodProcessInfo[] = [];
  const recorded = recordedGroups(agentDataDir);
  for (const members of processGroups().values()) {
    for (const p of members) {
      if (p.pid === process.pid) continue;
      const env = readEnviron(p.pid);
      if (env?.get(AGENT_MARKER_ENV) === agentDataDir) found.push({ pid: p.pid, pgid: p.pgid, podUid: env.get(POD_UID_ENV) });
      else if (recorded.has(p.pgid)) found.push({ pid: p.pid, pgid: p.pgid, podUid: recorded.get(p.pgid) });
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
