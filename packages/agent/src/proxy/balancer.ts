// Round-robin over the ready endpoints of one service port.
import type { Backend } from './plan.js';

export class RoundRobin {
  private list: Backend[] = [];
  private next = 0;

  /** Replace the set; new connections use it at once. Returns whether it changed. */
  set(backends: Backend[]): boolean {
    const same = backends.length === this.list.length && backends.every((b, i) => b.key === this.list[i].key);
    if (same) return false;
    this.list = [...backends];
    if (this.next >= this.list.length) this.next = 0;
    return true;
  }

  has(key: string): boolean {
    return this.list.some((b) => b.key === key);
  }

  get backends(): readonly Backend[] {
    return this.list;
  }

  /**
   * The order to try for one new connection: every endpoint once, starting at the next in turn
   * (a connect that fails moves on to the following one).
   */
  order(): Backend[] {
    const n = this.list.length;
    if (n === 0) return [];
    const start = this.next;
    this.next = (start + 1) % n;
    return [...this.list.slice(start), ...this.list.slice(0, start)];
  }
}
