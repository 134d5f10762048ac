// The supervisor's record of what it started: one JSON file in the cluster directory.
import { existsSync, readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ProcessRecord {
  name: string;
  kind: 'master' | 'agent';
  pid: number;
  /** The exact argv after `node`, so `start` can run it again. */
  args: string[];
  log: string;
  dataDir: string;
  /** gRPC address (masters) or node address (agents). */
  address: string;
  http: string;
  startedAt: string;
}

export interface ClusterState {
  version: 1;
  clusterDir: string;
  repo: string;
  /** The join token the masters were started with and agents join with. */
  joinToken?: string;
  processes: ProcessRecord[];
}

export function statePath(clusterDir: string): string {
  return join(clusterDir, 'cluster.json');
}

export function readState(clusterDir: string): ClusterState | undefined {
  const path = statePath(clusterDir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterState;
}

export function writeState(state: ClusterState): void {
  const path = statePath(state.clusterDir);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** Is `pid` alive and still the process we started (not a recycled pid)? */
export function isOurProcess(rec: ProcessRecord): boolean {
  try {
    process.kill(rec.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(rec.dataDir);
  } catch {
    // No /proc (macOS): trust the pid.
    return true;
  }
}
