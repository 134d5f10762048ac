// The node credential a master hands out on the first join: kept in the data dir, owner-only.
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CREDENTIAL_FILE = 'node-credential';

export function credentialPath(dataDir: string): string {
  return join(dataDir, CREDENTIAL_FILE);
}

/** The saved credential, or '' when there is none yet. */
export async function readCredential(dataDir: string): Promise<string> {
  try {
    return (await readFile(credentialPath(dataDir), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new Error(`reading ${credentialPath(dataDir)}: ${(err as Error).message}`);
  }
}

/** Written to a temporary file first and renamed, so a crash never leaves half a credential. */
export async function saveCredential(dataDir: string, credential: string): Promise<void> {
  const path = credentialPath(dataDir);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${credential}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600); // the umask must not widen it, and an older tmp file may have had other bits
  await rename(tmp, path);
}
