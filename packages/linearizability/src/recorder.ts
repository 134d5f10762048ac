// Records a client history for the checker; shared by the simulator and the chaos tool.

import type { Operation } from './types.js';

interface Pending<I> {
  id: number;
  clientId: number;
  input: I;
  call: number;
}

/**
 * Ids are assigned in invocation order, starting at 0. The clock must never go
 * backwards. Mind the time convention (README.md): a response and an invocation
 * stamped with the same time are taken to be in that order, response first.
 */
export class HistoryRecorder<I, O> {
  private nextId = 0;
  private lastTime = -Infinity;
  private readonly inFlight = new Map<number, Pending<I>>();
  private readonly done: Operation<I, O>[] = [];
  private readonly tally = { ok: 0, fail: 0, unknown: 0 };

  constructor(private readonly now: () => number) {}

  private time(): number {
    const t = this.now();
    if (!Number.isFinite(t)) throw new Error(`HistoryRecorder: clock returned ${t}`);
    if (t < this.lastTime) throw new Error(`HistoryRecorder: clock went backwards (${t} after ${this.lastTime})`);
    this.lastTime = t;
    return t;
  }

  private finish(id: number, what: string): Pending<I> {
    const op = this.inFlight.get(id);
    if (op === undefined) {
      const state = id >= 0 && id < this.nextId ? 'already finished' : 'never invoked';
      throw new Error(`HistoryRecorder.${what}(${id}): operation ${id} is ${state}`);
    }
    this.inFlight.delete(id);
    return op;
  }

  /** Records an invocation now; returns the operation's id. */
  invoke(clientId: number, input: I): number {
    const id = this.nextId++;
    this.inFlight.set(id, { id, clientId, input, call: this.time() });
    return id;
  }

  /** The operation completed with `output`. */
  ok(id: number, output: O): void {
    const op = this.finish(id, 'ok');
    this.done.push({ ...op, status: 'ok', return: this.time(), output });
    this.tally.ok++;
  }

  /** The operation definitely did not take effect: it is left out of the history. */
  fail(id: number): void {
    this.finish(id, 'fail');
    this.tally.fail++;
  }

  /** The operation may or may not have taken effect (e.g. a timeout). */
  unknown(id: number): void {
    const op = this.finish(id, 'unknown');
    this.done.push({ ...op, status: 'unknown', return: Infinity });
    this.tally.unknown++;
  }

  /** Invoked but not yet finished. */
  pending(): number {
    return this.inFlight.size;
  }

  /** The history so far, by id; operations still pending are exported as unknown. */
  operations(): Operation<I, O>[] {
    const pending: Operation<I, O>[] = [...this.inFlight.values()].map((op) => ({
      ...op,
      status: 'unknown',
      return: Infinity,
    }));
    return [...this.done.map((op) => ({ ...op })), ...pending].sort((a, b) => a.id - b.id);
  }

  /** Finished operations by outcome (pending ones are not counted; see pending()). */
  counts(): { ok: number; fail: number; unknown: number } {
    return { ...this.tally };
  }
}
