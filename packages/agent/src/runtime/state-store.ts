/**
 * `<dataDir>/runtime-state.json`: what a restarted agent needs to adopt the processes it
 * left running (pid + process start time against pid reuse) and to keep each pod's
 * host ports, restart counts and finished containers. Written atomically (temp file +
 * rename), one write at a time, coalesced.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ContainerPortStatus, ContainerStateTerminated, RestartPolicy } from '@bramble/api';

export const STATE_FILE = 'runtime-state.json';
const STATE_VERSION = 1;

export interface ContainerRecordState {
  name: string;
  restartCount: number;
  ports: ContainerPortStatus[];
  /** Set while a process of this container is (believed to be) running. */
  pid?: number;
  pgid?: number;
  /** Field 22 of /proc/<pid>/stat. */
  procStartTime?: number;
  startedAt?: string;
  /** The instance before the current one. */
  lastTerminated?: ContainerStateTerminated;
  /** Set when the container has stopped and is not running now. */
  terminated?: ContainerStateTerminated;
}

export interface PodRecordState {
  uid: string;
  namespace: string;
  name: string;
  startTime: string;
  restartPolicy?: RestartPolicy;
  containers: ContainerRecordState[];
}

export interface RuntimeStateFile {
  version: number;
  pods: PodRecordState[];
}

export async function loadState(dataDir: string): Promise<PodRecordState[]> {
  const path = join(dataDir, STATE_FILE);
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const file = parsed as Partial<RuntimeStateFile>;
  if (file.version !== STATE_VERSION || !Array.isArray(file.pods)) {
    throw new Error(`${path}: unsupported runtime state (version ${JSON.stringify(file.version)}, expected ${STATE_VERSION})`);
  }
  return file.pods;
}

export class StateWriter {
  private writing: Promise<void> | undefined;
  private dirty = false;
  private readonly tmpSuffix = `${process.pid}-${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly dataDir: string,
    private readonly snapshot: () => PodRecordState[],
    private readonly onError: (err: Error) => void,
  ) {}

  /** Schedules a write; writes already queued absorb it. */
  request(): void {
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves once everything requested so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        try {
          await this.write({ version: STATE_VERSION, pods: this.snapshot() });
        } catch (err) {
          this.onError(err as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async write(state: RuntimeStateFile): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const path = join(this.dataDir, STATE_FILE);
    const tmp = `${path}.${this.tmpSuffix}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(state, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }
}
