/** What one controller did in one pass: its decisions, the races it lost, and its failures. */
import { isRaceLost, NotLeaderError } from '../client.js';

export interface ObjectError {
  /** `namespace/name` (or the node name) of the object being reconciled. */
  object: string;
  message: string;
  error: unknown;
}

export class ControllerReport {
  /** Human-readable decisions, in order: `create pod default/web-x7k2p`, `bind default/web-x7k2p node-1`. */
  readonly actions: string[] = [];
  /** Writes that lost a race (Conflict / NotFound); the next pass sees the new state and decides again. */
  readonly conflicts: string[] = [];
  readonly errors: ObjectError[] = [];

  constructor(readonly controller: string) {}

  action(text: string): void {
    this.actions.push(text);
  }

  /**
   * Runs `fn` for one object. A lost race is noted, any other failure is
   * recorded against the object (the pass goes on with the next one);
   * `NotLeaderError` aborts the whole pass.
   */
  async guard(object: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (error instanceof NotLeaderError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (isRaceLost(error)) this.conflicts.push(`${object}: ${message}`);
      else this.errors.push({ object, message, error });
    }
  }
}
