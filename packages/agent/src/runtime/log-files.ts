/**
 * Per-container log files: `<dataDir>/pods/<ns>_<name>_<uid>/<container>/current.log`
 * receives the process's stdout and stderr through file descriptors opened in append
 * mode (no pipes: a container outlives an agent that is killed). `previous.log` holds
 * the instance before the last restart; `current.log.1..N` are copy-truncate rotations.
 */
import { copyFileSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

export const CURRENT_LOG = 'current.log';
export const PREVIOUS_LOG = 'previous.log';

export function podLogDir(dataDir: string, namespace: string, name: string, uid: string): string {
  return join(dataDir, 'pods', `${namespace}_${name}_${uid}`);
}

export function containerLogDir(podDir: string, container: string): string {
  return join(podDir, container);
}

/** Opens current.log for appending (created if missing); the caller hands the fd to the child and closes its copy. */
export function openCurrentLog(dir: string): number {
  mkdirSync(dir, { recursive: true });
  return openSync(join(dir, CURRENT_LOG), 'a');
}

function rotatedName(n: number): string {
  return `${CURRENT_LOG}.${n}`;
}

/** On a restart: the old current.log becomes previous.log; its rotations are dropped. */
export function rollToPrevious(dir: string, maxFiles: number): void {
  const current = join(dir, CURRENT_LOG);
  if (existsSync(current)) renameSync(current, join(dir, PREVIOUS_LOG));
  for (let n = 1; n <= Math.max(maxFiles, 1) + 1; n++) rmSync(join(dir, rotatedName(n)), { force: true });
}

/**
 * Copy-truncate rotation when current.log is over `maxBytes`: current.log.N-1 -> .N, ...,
 * a copy of current.log -> .1, then current.log is truncated in place (the child keeps
 * writing to the same fd; O_APPEND puts its next write at the new end). Output written
 * between the copy and the truncate is lost, as with logrotate's copytruncate.
 * Returns whether it rotated.
 */
export function rotateIfLarge(dir: string, maxBytes: number, maxFiles: number): boolean {
  const current = join(dir, CURRENT_LOG);
  let size: number;
  try {
    size = statSync(current).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  if (maxFiles > 0) {
    rmSync(join(dir, rotatedName(maxFiles)), { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      const from = join(dir, rotatedName(n));
      if (existsSync(from)) renameSync(from, join(dir, rotatedName(n + 1)));
    }
    copyFileSync(current, join(dir, rotatedName(1)));
  }
  truncateSync(current, 0);
  return true;
}

export function removeLogDir(podDir: string): void {
  rmSync(podDir, { recursive: true, force: true });
}

export function removeFileIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
