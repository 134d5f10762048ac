/**
 * What a container sees of its volumeMounts. Without mount namespaces a volume cannot
 * appear at an arbitrary path, so:
 *  - every mount gives the container `VOLUME_<NAME>` = the volume's absolute directory;
 *  - a RELATIVE mountPath also becomes a symlink `<workingDir>/<mountPath>` -> the volume
 *    (or `<volume>/<subPath>`), made just before the container starts;
 *  - an ABSOLUTE mountPath is not mounted (no root, no namespaces): use `VOLUME_<NAME>`.
 * Links the runtime made are listed in `<pod state dir>/mount-links.json` so they are
 * removed with the pod, even by an agent restarted after the pod's deletion.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Container } from '@bramble/api';
import { podStateDir, volumeDir, volumeEnvName, volumesDir } from './volumes.js';
import { isDirectory } from './fs-checks.js';

const LINKS_FILE = 'mount-links.json';

/** `VOLUME_<NAME>` for each volume the container mounts, in mount order (first mount of a volume wins). */
export function mountEnv(container: Container, dataDir: string, uid: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const seen = new Set<string>();
  for (const m of container.volumeMounts ?? []) {
    if (seen.has(m.name)) continue;
    seen.add(m.name);
    out.push({ name: volumeEnvName(m.name), value: volumeDir(dataDir, uid, m.name) });
  }
  return out;
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function readLinks(dataDir: string, uid: string): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(podStateDir(dataDir, uid), LINKS_FILE), 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

function recordLink(dataDir: string, uid: string, link: string): void {
  const links = readLinks(dataDir, uid);
  if (links.includes(link)) return;
  links.push(link);
  const dir = podStateDir(dataDir, uid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${LINKS_FILE}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, JSON.stringify(links));
  renameSync(tmp, join(dir, LINKS_FILE));
}

/**
 * Makes the symlinks of the container's relative mountPaths under `cwd`. An existing
 * symlink there is replaced (another pod sharing the working directory made it: the last
 * started wins, which is why VOLUME_<NAME> is the reliable way); anything else there is an error.
 */
export function linkMounts(container: Container, cwd: string, dataDir: string, uid: string): string[] {
  const made: string[] = [];
  if (!isDirectory(cwd)) return made; // the runtime reports a missing workingDir; never create it here
  (container.volumeMounts ?? []).forEach((m, i) => {
    if (isAbsolute(m.mountPath)) return;
    const where = `volumeMounts[${i}] (volume "${m.name}", mountPath ${JSON.stringify(m.mountPath)})`;
    const link = resolve(cwd, m.mountPath);
    if (!inside(link, resolve(cwd))) throw new Error(`${where}: a relative mountPath must stay inside the working directory ${cwd}`);
    const base = volumeDir(dataDir, uid, m.name);
    const target = m.subPath ? resolve(base, m.subPath) : base;
    if (m.subPath && !inside(target, base)) throw new Error(`${where}: subPath ${JSON.stringify(m.subPath)} must stay inside the volume`);
    let existing;
    try {
      existing = lstatSync(link);
    } catch {
      existing = undefined;
    }
    if (existing && !existing.isSymbolicLink()) {
      throw new Error(`${where}: ${link} exists and is not a symlink; Bramble mounts a relative mountPath as a symlink and will not replace a real file or directory`);
    }
    if (existing && readlinkSync(link) === target) {
      made.push(link);
      return;
    }
    mkdirSync(dirname(link), { recursive: true });
    recordLink(dataDir, uid, link); // recorded first: a crash after the symlink still cleans it up
    const tmp = `${link}.bramble-${randomBytes(4).toString('hex')}`;
    symlinkSync(target, tmp);
    try {
      renameSync(tmp, link);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new Error(`${where}: cannot link ${link}: ${(err as Error).message}`);
    }
    made.push(link);
  });
  return made;
}

/** Removes the symlinks this pod made that still point into its volumes (others' links are left alone). */
export function removeMountLinks(dataDir: string, uid: string): void {
  const ours = volumesDir(dataDir, uid) + sep;
  for (const link of readLinks(dataDir, uid)) {
    try {
      if (!lstatSync(link).isSymbolicLink()) continue;
      const target = resolve(dirname(link), readlinkSync(link));
      if (target === ours.slice(0, -1) || target.startsWith(ours)) unlinkSync(link);
    } catch {
      // already gone
    }
  }
}
