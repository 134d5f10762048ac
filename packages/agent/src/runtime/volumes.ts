/**
 * Pod volumes on disk: `<dataDir>/pods/<uid>/volumes/<name>/`.
 *
 * - emptyDir: a plain directory, created once, kept across container restarts and agent
 *   restarts, removed with the pod.
 * - configMap / secret: the kubelet's atomic-writer layout. The files live in a
 *   content-addressed directory `..<hash>`; `..data` is a symlink to it; every top-level
 *   entry the user sees (`<key>` or the first element of `items[].path`) is a symlink
 *   through `..data`. An update writes a new `..<hash>`, then swaps `..data` with one
 *   rename(2), so a reader never sees a mix of old and new files. A new volume is built
 *   in a temp directory and renamed into place, so it appears whole or not at all.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Volume } from '@bramble/api';
import type { VolumeFile } from './types.js';
import { isSymlink } from './fs-checks.js';

export const DATA_LINK = '..data';
const DIR_MODE = 0o755;

/** The directory of everything the agent keeps for a pod besides its logs. */
export function podStateDir(dataDir: string, uid: string): string {
  return join(resolve(dataDir), 'pods', uid);
}

export function volumesDir(dataDir: string, uid: string): string {
  return join(podStateDir(dataDir, uid), 'volumes');
}

export function volumeDir(dataDir: string, uid: string, volume: string): string {
  return join(volumesDir(dataDir, uid), volume);
}

/** `VOLUME_<NAME>`: upper-cased, every character other than A-Z, 0-9 becomes `_`. */
export function volumeEnvName(volume: string): string {
  return `VOLUME_${volume.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Rejects paths that would escape the volume (validation already forbids them; the runtime must not trust it). */
function checkRelative(path: string, what: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.some((p) => p === '..' || p === '' || p === '.') || parts[0].startsWith('..')) {
    throw new Error(`${what} ${JSON.stringify(path)} must be a relative path without '.', '..' or empty elements, not starting with '..'`);
  }
}

function contentHash(files: VolumeFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`${f.path}\0${f.mode.toString(8)}\0${f.contentBase64}\0`);
  }
  return h.digest('hex').slice(0, 20);
}

function writeDataDir(dir: string, files: VolumeFile[]): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  for (const f of files) {
    const path = join(dir, f.path);
    mkdirSync(dirname(path), { recursive: true, mode: DIR_MODE });
    writeFileSync(path, Buffer.from(f.contentBase64, 'base64'), { mode: f.mode });
    chmodSync(path, f.mode); // the umask must not change the mode the pod asked for
  }
}

function topLevelNames(files: VolumeFile[]): Set<string> {
  return new Set(files.map((f) => f.path.split('/')[0]));
}

/** Creates or atomically replaces the symlink `path` -> `target`. */
function replaceSymlink(target: string, path: string): void {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function ensureUserLinks(dir: string, names: Set<string>): void {
  for (const name of names) {
    const path = join(dir, name);
    const target = `${DATA_LINK}/${name}`;
    if (isSymlink(path) && readlinkSync(path) === target) continue;
    if (existsSync(path) && !isSymlink(path)) rmSync(path, { recursive: true, force: true });
    replaceSymlink(target, path);
  }
}

/** Builds a complete config volume in a fresh directory `dir` (which must not exist). */
function buildFresh(dir: string, files: VolumeFile[], hash: string): void {
  mkdirSync(dir, { recursive: false, mode: DIR_MODE });
  writeDataDir(join(dir, `..${hash}`), files);
  symlinkSync(`..${hash}`, join(dir, DATA_LINK));
  ensureUserLinks(dir, topLevelNames(files));
}

/** Whether `dir` has the atomic-writer layout pointing at `..<hash>`. */
function currentHash(dir: string): string | undefined {
  try {
    const target = readlinkSync(join(dir, DATA_LINK));
    return target.startsWith('..') ? target.slice(2) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes the config volume at `dir` hold exactly `files`. Returns whether anything changed.
 * Idempotent: a second call with the same files does nothing (the data dir is content-addressed).
 */
export function writeConfigVolume(dir: string, files: VolumeFile[]): boolean {
  for (const f of files) {
    checkRelative(f.path, 'volume file path');
    if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777) throw new Error(`volume file ${f.path}: mode must be between 0 and 0777 (got ${f.mode})`);
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`volume file path ${JSON.stringify(f.path)} is given twice`);
    seen.add(f.path);
  }
  const hash = contentHash(files);
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const old = existsSync(dir) ? currentHash(dir) : undefined;
  if (old === hash && existsSync(join(dir, `..${hash}`))) {
    ensureUserLinks(dir, topLevelNames(files)); // repairs a link removed by hand
    return false;
  }
  if (old === undefined) {
    // New (or not in our layout): build beside it, then rename into place.
    const tmp = join(parent, `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      buildFresh(tmp, files, hash);
      if (existsSync(dir)) {
        const trash = join(parent, `.${randomBytes(6).toString('hex')}.old`);
        renameSync(dir, trash);
        renameSync(tmp, dir);
        rmSync(trash, { recursive: true, force: true });
      } else {
        renameSync(tmp, dir);
      }
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    return true;
  }
  // Update in place: new data dir, swap `..data`, fix the user-visible links, drop the old data.
  const next = join(dir, `..${hash}`);
  rmSync(next, { recursive: true, force: true }); // a leftover of an interrupted update
  writeDataDir(next, files);
  replaceSymlink(`..${hash}`, join(dir, DATA_LINK));
  const names = topLevelNames(files);
  ensureUserLinks(dir, names);
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('..')) {
      if (entry !== DATA_LINK && entry !== `..${hash}`) rmSync(join(dir, entry), { recursive: true, force: true });
    } else if (!names.has(entry)) {
      rmSync(join(dir, entry), { recursive: true, force: true });
    }
  }
  return true;
}

/** An emptyDir: created when missing, never emptied while the pod lives. */
export function ensureEmptyDir(dir: string): boolean {
  if (existsSync(dir)) return false;
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  return true;
}

/**
 * Materializes every volume of the pod: emptyDirs, and configMap/secret volumes from
 * `files` (by volume name; a config volume without an entry is written empty, which is
 * what an optional reference to a missing object gives). Returns the names of volumes
 * that changed. Throws with the volume's name on the first failure.
 */
export function syncPodVolumes(dataDir: string, uid: string, volumes: Volume[], files: Record<string, VolumeFile[]> | undefined): string[] {
  const changed: string[] = [];
  for (const v of volumes) {
    checkRelative(v.name, 'volume name');
    const dir = volumeDir(dataDir, uid, v.name);
    try {
      if (v.emptyDir) {
        if (ensureEmptyDir(dir)) changed.push(v.name);
      } else if (v.configMap || v.secret) {
        if (writeConfigVolume(dir, files?.[v.name] ?? [])) changed.push(v.name);
      }
    } catch (err) {
      throw new Error(`volume "${v.name}": ${(err as Error).message}`);
    }
  }
  return changed;
}

/** Removes the pod's volumes (and whatever else lives in its state directory). */
export function removePodVolumes(dataDir: string, uid: string): void {
  rmSync(podStateDir(dataDir, uid), { recursive: true, force: true });
}
