// Liveness heartbeats: one per interval to EVERY master (each keeps them in memory only, so
// whichever master leads next already knows the node is alive). Each master gets them over one
// long-lived HeartbeatStream (a unary call per second per master costs far more CPU on both
// ends); a broken stream is re-opened with back-off, and a master that does not implement the
// stream (an older version) gets unary Heartbeat calls, re-probed now and then.
import { BrambleError, isBrambleError, type HeartbeatStreamHandle, type NodesApi } from '@bramble/client';
import { Backoff } from '@bramble/transport';
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
  /** A heartbeat on a stream not answered within this long breaks the stream. Default: the interval, within [500, 2000] ms. */
  responseTimeoutMs?: number;
  /** After a master answered UNIMPLEMENTED, try the stream again after this long. Default 60 s. */
  streamRetryMs?: number;
}

const DEFAULT_STREAM_RETRY_MS = 60_000;

interface TargetState {
  target: HeartbeatTarget;
  consecutiveFailures: number;
  /** Unary mode: a call is out. */
  inFlight: boolean;
  /** 'unary' after the master answered UNIMPLEMENTED to the stream (or the NodesApi has none). */
  mode: 'stream' | 'unary';
  /** Unary mode: when to try the stream again. */
  streamRetryAtMs: number;
  fallbackLogged: boolean;
  stream: HeartbeatStreamHandle | undefined;
  /** A heartbeat sent on the stream is not answered yet. */
  awaiting: boolean;
  responseTimer: NodeJS.Timeout | undefined;
  reopenTimer: NodeJS.Timeout | undefined;
  backoff: Backoff;
}

export class Heartbeater {
  private timer: NodeJS.Timeout | undefined;
  private readonly states: TargetState[];
  private readonly responseTimeoutMs: number;
  private readonly streamRetryMs: number;
  private stopped = false;

  constructor(private readonly o: HeartbeaterOptions) {
    this.responseTimeoutMs = o.responseTimeoutMs ?? Math.max(500, Math.min(o.intervalMs, 2_000));
    this.streamRetryMs = o.streamRetryMs ?? DEFAULT_STREAM_RETRY_MS;
    // Re-open quickly (a restarted master hears from us within about an interval), never faster than that for long.
    const initialMs = Math.min(100, o.intervalMs);
    this.states = o.targets.map((target) => ({
      target,
      consecutiveFailures: 0,
      inFlight: false,
      mode: target.nodes.openHeartbeatStream ? 'stream' : 'unary',
      streamRetryAtMs: Number.POSITIVE_INFINITY,
      fallbackLogged: false,
      stream: undefined,
      awaiting: false,
      responseTimer: undefined,
      reopenTimer: undefined,
      backoff: new Backoff({ initialMs, maxMs: Math.max(initialMs, o.intervalMs), random: Math.random }),
    }));
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.states) {
      this.clearStreamTimers(s);
      const stream = s.stream;
      s.stream = undefined;
      stream?.close();
    }
  }

  /** Masters whose last heartbeat failed. */
  failing(): string[] {
    return this.states.filter((s) => s.consecutiveFailures > 0).map((s) => s.target.master);
  }

  /** How each master is being sent heartbeats right now (for tests and diagnostics). */
  modes(): Record<string, 'stream' | 'unary'> {
    return Object.fromEntries(this.states.map((s) => [s.target.master, s.mode]));
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.states) {
      if (s.mode === 'unary' && now >= s.streamRetryAtMs) s.mode = 'stream';
      if (s.mode === 'unary') {
        // A master that has not answered the previous heartbeat yet is skipped, never queued up.
        if (!s.inFlight) void this.beatUnary(s);
      } else if (!s.reopenTimer && !s.awaiting) {
        // Waiting to re-open after a failure, or for an answer (its timer breaks the stream): skip.
        this.beatStream(s);
      }
    }
  }

  private async beatUnary(s: TargetState): Promise<void> {
    const { master } = s.target;
    s.inFlight = true;
    this.o.metrics.heartbeats.inc(master);
    try {
      await s.target.nodes.heartbeat(this.o.nodeName, this.o.credential());
      this.succeeded(s);
    } catch (err) {
      if (this.stopped) return;
      this.failed(s, err);
    } finally {
      s.inFlight = false;
    }
  }

  /** Sends one heartbeat on the master's stream, opening it first if needed. */
  private beatStream(s: TargetState): void {
    const open = s.target.nodes.openHeartbeatStream;
    if (this.stopped || !open) return;
    const { master } = s.target;
    this.o.metrics.heartbeats.inc(master);
    if (!s.stream) {
      try {
        const stream: HeartbeatStreamHandle = open.call(s.target.nodes, this.o.nodeName, {
          onResponse: () => {
            if (stream === s.stream) this.answered(s);
          },
          onEnd: (err) => {
            if (stream !== s.stream) return;
            s.stream = undefined;
            this.streamEnded(s, err);
          },
        });
        s.stream = stream;
      } catch (err) {
        s.awaiting = true;
        this.streamEnded(s, err);
        return;
      }
    }
    const stream = s.stream;
    s.awaiting = true;
    try {
      stream.send(this.o.credential());
    } catch (err) {
      s.stream = undefined;
      stream.close();
      this.streamEnded(s, err);
      return;
    }
    s.responseTimer = setTimeout(() => {
      s.responseTimer = undefined;
      if (stream !== s.stream || this.stopped) return;
      s.stream = undefined;
      stream.close();
      const details = `no answer from ${master} within ${this.responseTimeoutMs} ms`;
      this.streamEnded(s, new BrambleError({ operation: `heartbeat stream of node ${JSON.stringify(this.o.nodeName)}`, code: 'DEADLINE_EXCEEDED', details, endpoint: master }));
    }, this.responseTimeoutMs);
  }

  private answered(s: TargetState): void {
    if (s.responseTimer) clearTimeout(s.responseTimer);
    s.responseTimer = undefined;
    s.awaiting = false;
    s.backoff.reset();
    this.succeeded(s);
  }

  /** The stream is gone (the master ended it, the connection broke, or no answer came). */
  private streamEnded(s: TargetState, err: unknown): void {
    this.clearStreamTimers(s);
    const lost = s.awaiting;
    s.awaiting = false;
    if (this.stopped) return;
    const { master } = s.target;
    if (isBrambleError(err) && err.code === 'UNIMPLEMENTED') {
      // An older master: unary calls from now on, the stream tried again later (it may be upgraded).
      s.mode = 'unary';
      s.streamRetryAtMs = Date.now() + this.streamRetryMs;
      if (!s.fallbackLogged) this.o.logger.info({ master }, 'master does not serve HeartbeatStream; sending it unary heartbeats');
      s.fallbackLogged = true;
      // The heartbeat the stream did not deliver goes now, not an interval late.
      if (lost && !s.inFlight) void this.beatUnary(s);
      return;
    }
    if (lost) this.failed(s, err);
    else this.o.logger.debug({ master, err: errorMessage(err) }, 'heartbeat stream ended; re-opening it');
    const delayMs = Math.round(s.backoff.next());
    s.reopenTimer = setTimeout(() => {
      s.reopenTimer = undefined;
      if (!this.stopped && s.mode === 'stream' && !s.stream && !s.awaiting) this.beatStream(s);
    }, delayMs);
  }

  private succeeded(s: TargetState): void {
    if (s.consecutiveFailures > 0) this.o.logger.info({ master: s.target.master, failures: s.consecutiveFailures }, 'heartbeats to master succeed again');
    s.consecutiveFailures = 0;
  }

  private failed(s: TargetState, err: unknown): void {
    const { master } = s.target;
    this.o.metrics.heartbeatFailures.inc(master);
    s.consecutiveFailures++;
    if (isNodeUnknown(err)) {
      this.o.onNodeUnknown(master, err);
    } else if (s.consecutiveFailures === 1) {
      // Once per outage: a down master would otherwise log every second.
      this.o.logger.warn({ master, err: errorMessage(err) }, 'heartbeat failed');
    }
  }

  private clearStreamTimers(s: TargetState): void {
    if (s.responseTimer) clearTimeout(s.responseTimer);
    if (s.reopenTimer) clearTimeout(s.reopenTimer);
    s.responseTimer = s.reopenTimer = undefined;
  }
}
