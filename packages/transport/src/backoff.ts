// Reconnect delays: exponential with jitter.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A float in [0, 1). */
  random: () => number;
}

/**
 * Delays double from `initialMs` up to `maxMs`; each delay is drawn from
 * [d/2, d) ("equal jitter"), so peers that failed together do not retry together.
 */
export class Backoff {
  private currentMs: number;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new Error(`backoff: need 0 < initialMs <= maxMs (got initialMs ${opts.initialMs}, maxMs ${opts.maxMs})`);
    }
    this.currentMs = opts.initialMs;
  }

  /** The next delay to wait, in ms. */
  next(): number {
    const d = this.currentMs;
    this.currentMs = Math.min(this.opts.maxMs, d * 2);
    return d / 2 + this.opts.random() * (d / 2);
  }

  reset(): void {
    this.currentMs = this.opts.initialMs;
  }
}
