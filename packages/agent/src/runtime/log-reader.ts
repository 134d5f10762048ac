/** Reading a log file: the last N lines, and following it across rotation and restarts. */
import { open, stat } from 'node:fs/promises';

const CHUNK_BYTES = 64 * 1024;

/** Byte offset where the last `lines` lines of the file start (0 for the whole file). */
export async function tailOffset(path: string, lines: number): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (lines <= 0) return size;
    let pos = size;
    let newlines = 0;
    // A trailing newline ends the last line; it does not start a new one.
    let skipTrailing = true;
    const buf = Buffer.alloc(CHUNK_BYTES);
    while (pos > 0) {
      const len = Math.min(CHUNK_BYTES, pos);
      pos -= len;
      await fh.read(buf, 0, len, pos);
      for (let i = len - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) {
          skipTrailing = false;
          continue;
        }
        if (skipTrailing) {
          skipTrailing = false;
          continue;
        }
        newlines++;
        if (newlines === lines) return pos + i + 1;
      }
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/** Copies bytes [from, to) of the file to onData; returns the position reached. */
async function copyRange(path: string, from: number, to: number, onData: (chunk: Buffer) => void): Promise<number> {
  const fh = await open(path, 'r');
  try {
    let pos = from;
    while (pos < to) {
      const buf = Buffer.alloc(Math.min(CHUNK_BYTES, to - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      onData(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return pos;
  } finally {
    await fh.close();
  }
}

export interface ReadLogOptions {
  tailLines?: number;
  follow?: boolean;
  pollMs?: number;
}

/**
 * Streams a log file. Following polls the path: a shrinking file (copy-truncate) is read
 * again from its start, a replaced file (new inode after a restart) likewise. Ends when
 * not following, or when `signal` aborts.
 */
export async function readLog(path: string, opts: ReadLogOptions, onData: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
  let pos = opts.tailLines !== undefined ? await tailOffset(path, opts.tailLines) : 0;
  let st = await stat(path);
  let ino = st.ino;
  pos = await copyRange(path, pos, st.size, onData);
  if (!opts.follow) return;
  const pollMs = opts.pollMs ?? 200;
  while (!signal.aborted) {
    await abortableDelay(pollMs, signal);
    if (signal.aborted) break;
    try {
      st = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // between rename and re-create
      throw err;
    }
    if (st.ino !== ino || st.size < pos) {
      ino = st.ino;
      pos = 0;
    }
    if (st.size > pos) pos = await copyRange(path, pos, st.size, onData);
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
