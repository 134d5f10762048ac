// Joining the cluster: register the Node with the join token (and the saved credential on a
// rejoin), keep the credential the masters hand back.
import type { Node } from '@bramble/api';
import type { NodesApi } from '@bramble/client';
import { Backoff } from '@bramble/transport';
import type { Logger } from 'pino';
import { rm } from 'node:fs/promises';
import { credentialPath, loadOrCreateCredential, readCredential, saveCredential } from './credential.js';
import { errorMessage, isTransient, JoinRejectedError } from './errors.js';
import { sleep } from './sleep.js';

export interface RegistrationOptions {
  dataDir: string;
  joinToken: string;
  node: Node;
  nodes: NodesApi;
  logger: Logger;
  /** Back-off between attempts while the masters are unreachable. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class Registration {
  private credentialValue = '';
  private rejoining: Promise<void> | undefined;

  constructor(private readonly o: RegistrationOptions) {}

  /** The node credential in use ('' before the first join). */
  get credential(): string {
    return this.credentialValue;
  }

  private async attempt(): Promise<void> {
    const result = await this.o.nodes.join(this.o.joinToken, this.o.node, this.credentialValue || undefined);
    if (result.credential && result.credential !== this.credentialValue) {
      await saveCredential(this.o.dataDir, result.credential);
      this.credentialValue = result.credential;
    }
  }

  /**
   * Join, retrying with back-off while the masters cannot answer; throws JoinRejectedError when
   * they refuse (bad token or credential). Resolves false if `signal` aborted first.
   */
  async join(signal?: AbortSignal): Promise<boolean> {
    const saved = await readCredential(this.o.dataDir);
    const rejoin = saved !== '';
    this.credentialValue = rejoin ? saved : await loadOrCreateCredential(this.o.dataDir);
    const backoff = new Backoff({ initialMs: this.o.retryInitialMs ?? 200, maxMs: this.o.retryMaxMs ?? 5_000, random: Math.random });
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return false;
      try {
        await this.attempt();
        this.o.logger.info({ attempt, withCredential: rejoin }, 'joined the cluster');
        return true;
      } catch (err) {
        if (!isTransient(err)) {
          // A refused first join leaves nothing behind (the next try may use another name or token).
          if (!rejoin) await rm(credentialPath(this.o.dataDir), { force: true });
          throw new JoinRejectedError(err);
        }
        const delayMs = Math.round(backoff.next());
        this.o.logger.warn({ attempt, delayMs, err: errorMessage(err) }, 'masters unreachable, retrying the join');
        await sleep(delayMs, signal);
      }
    }
  }

  /** One rejoin at a time (a master said it does not know the node); failures are logged, the next heartbeat tries again. */
  rejoin(reason: string): Promise<void> {
    if (!this.rejoining) {
      this.o.logger.warn({ reason }, 'rejoining the cluster');
      this.rejoining = this.attempt()
        .then(() => this.o.logger.info({}, 'rejoined the cluster'))
        .catch((err) => this.o.logger.error({ err: errorMessage(err) }, 'rejoin failed'))
        .finally(() => {
          this.rejoining = undefined;
        });
    }
    return this.rejoining;
  }
}
