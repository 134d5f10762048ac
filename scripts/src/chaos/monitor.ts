// Polls every member's Status to record who led, in which term, and when: the leader
// timeline of the report and the leader_changes count.
import type { Conns } from './rpc.js';

export interface LeaderEpoch {
  /** When a member was first seen leading in this term (ms since the workload started). */
  atMs: number;
  term: number;
  leader: string;
}

export interface TermSample {
  atMs: number;
  /** Highest term any member reported. */
  term: number;
  /** Members that said they lead (more than one = a deposed leader that has not noticed yet). */
  leaders: string[];
}

export class LeaderMonitor {
  readonly epochs: LeaderEpoch[] = [];
  /** One sample each time the highest term or the set of self-declared leaders changes. */
  readonly terms: TermSample[] = [];
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;

  constructor(
    private readonly members: string[],
    private readonly conns: Conns,
    private readonly now: () => number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const statuses = await Promise.all(
        this.members.map((m) =>
          this.conns
            .get(m)
            .clusterCall('Status', {}, 250)
            .catch(() => undefined),
        ),
      );
      const atMs = this.now();
      let term = 0;
      const leaders: string[] = [];
      for (const s of statuses) {
        if (!s) continue;
        term = Math.max(term, Number(s.term));
        if (s.role === 'leader') {
          leaders.push(String(s.member));
          const key = `${s.term}/${s.member}`;
          if (!this.seen.has(key)) {
            this.seen.add(key);
            this.epochs.push({ atMs, term: Number(s.term), leader: String(s.member) });
          }
        }
      }
      leaders.sort();
      const last = this.terms[this.terms.length - 1];
      if (term > 0 && (!last || last.term !== term || last.leaders.join() !== leaders.join())) this.terms.push({ atMs, term, leaders });
    } finally {
      this.polling = false;
    }
  }

  /** Leaderships that began after the first one seen. */
  leaderChanges(): number {
    return Math.max(0, this.epochs.length - 1);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
