// Liveness heartbeats: one per interval to EVERY master (each keeps them in memory only, so
// whichever master leads next already knows the node is alive).
import type { NodesApi } from '@bramble/client';
import type { Logger } from 'pino';
import { errorMessage, isNodeUnknown } from './errors.js';
import type { AgentMetrics } from './metrics.js';

export interface HeartbeatTarget {
  master: string;
  nodes: NodesApi;
}

export interface HeartbeaterOptions {
  nodeName: string;
  intervalMs: number;
  targets: HeartbeatTarget[];
  credential: () => string;
  /** A master answered that it does not know this node. */
  onNodeUnknown: (master: string, err: unknown) => void;
  logger: Logger;
  metrics: AgentMetrics;
}

interface TargetState {
  target: HeartbeatTarget;
  inFlight: boolean;
  consecutiveFailures: number;
}

export class Heartbeater {
  private timer: NodeJS.Timeout | undefined;
  private readonly states: TargetState[];
  private stopped = false;

  constructor(private readonly o: HeartbeaterOptions) {
    this.states = o.targets.map((target) => ({ target, inFlight: false, consecutiveFailures: 0 }));
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Masters whose last heartbeat failed. */
  failing(): string[] {
    return this.states.filter((s) => s.consecutiveFailures > 0).map((s) => s.target.master);
  }

  private tick(): void {
    // A master that has not answered the previous heartbeat yet is skipped, never queued up.
    for (const s of this.states) if (!s.inFlight) void this.beat(s);
  }

  private async beat(s: TargetState): Promise<void> {
    const { master } = s.target;
    s.inFlight = true;
    this.o.metrics.heartbeats.inc(master);
    try {
      await s.target.nodes.heartbeat(this.o.nodeName, this.o.credential());
      if (s.consecutiveFailures > 0) this.o.logger.info({ master, failures: s.consecutiveFailures }, 'heartbeats to master succeed again');
      s.consecutiveFailures = 0;
    } catch (err) {
      if (this.stopped) return;
      this.o.metrics.heartbeatFailures.inc(master);
      s.consecutiveFailures++;
      if (isNodeUnknown(err)) {
        this.o.onNodeUnknown(master, err);
      } else if (s.consecutiveFailures === 1) {
        // Once per outage: a down master would otherwise log every second.
        this.o.logger.warn({ master, err: errorMessage(err) }, 'heartbeat failed');
      }
    } finally {
      s.inFlight = false;
    }
  }
}
