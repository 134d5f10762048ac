/**
 * The cluster's first join token. With `--join-token` (like k3s `--token`) a new
 * leader stores that token unless its id is already there. Without it, the first
 * leader that finds no token at all generates one, stores it, and writes it to
 * `<data-dir>/join-token` (mode 0600) for the operator to hand to agents.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generateJoinToken, parseJoinToken, type TokenRegistry } from './tokens.js';

export const JOIN_TOKEN_FILE = 'join-token';
export const BOOTSTRAP_DESCRIPTION = 'bootstrap';

export interface BootstrapTokenOptions {
  tokens: TokenRegistry;
  /** `--join-token`, or '' to generate one when the cluster has none. */
  joinToken: string;
  dataDir: string;
  logger: Logger;
}

/** Run once per leadership, after the leader's no-op committed. */
export async function ensureBootstrapToken(o: BootstrapTokenOptions): Promise<void> {
  if (o.joinToken) {
    const stored = await o.tokens.ensure(o.joinToken, BOOTSTRAP_DESCRIPTION);
    if (stored) o.logger.info({ tokenId: parseJoinToken(o.joinToken).id }, 'stored the --join-token');
    return;
  }
  const token = generateJoinToken();
  if (!(await o.tokens.createIfNoneExist(token, BOOTSTRAP_DESCRIPTION))) return;
  const path = join(o.dataDir, JOIN_TOKEN_FILE);
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  o.logger.info({ path, tokenId: parseJoinToken(token).id }, 'no join token existed: generated one; agents join with the token in this file');
}
