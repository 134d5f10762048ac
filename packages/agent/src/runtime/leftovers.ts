/**
 * Processes of a container whose main process died while no agent watched it. The group
 * id alone is not proof (the pid, and so the pgid, may have been reused), so only members
 * whose environment carries this pod's BRAMBLE_POD_UID are killed.
 */
import { POD_UID_ENV } from './env.js';
import type { RuntimeLogger } from './options.js';
import { processGroups, readEnviron } from './procfs.js';

export function killLeftovers(pgid: number, podUid: string, logger: RuntimeLogger): number {
  let killed = 0;
  for (const p of processGroups().get(pgid) ?? []) {
    if (readEnviron(p.pid)?.get(POD_UID_ENV) !== podUid) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  if (killed > 0) logger.info({ pgid, podUid, killed }, 'killed processes left over from a dead container');
  return killed;
}
