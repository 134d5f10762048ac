/**
 * Runs one probe of one container instance on its schedule and applies Kubernetes'
 * thresholds: the result flips to success after `successThreshold` consecutive successes
 * and to failure after `failureThreshold` consecutive failures (defaults 1 and 3; period
 * 10 s, timeout 1 s, no initial delay).
 */
import type { Probe } from '@bramble/api';
import { runProbe, type ProbeContext, type ProbeResult } from './probe-actions.js';

export interface ProberHooks {
  /** Every failed attempt (for Unhealthy events). */
  onFailure(result: ProbeResult): void;
  /** The thresholded result changed. */
  onChange(ok: boolean, result: ProbeResult): void;
}

export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  /** undefined until the thresholds decide either way. */
  private current: boolean | undefined;

  constructor(
    private readonly probe: Probe,
    private readonly ctx: Omit<ProbeContext, 'timeoutMs'>,
    private readonly hooks: ProberHooks,
  ) {}

  start(): void {
    const delayMs = (this.probe.initialDelaySeconds ?? 0) * 1000;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get result(): boolean | undefined {
    return this.current;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const timeoutMs = Math.max(1, this.probe.timeoutSeconds ?? 1) * 1000;
    const result = await runProbe(this.probe, { ...this.ctx, timeoutMs });
    if (this.stopped) return;
    this.record(result);
    if (this.stopped) return;
    const periodMs = Math.max(1, this.probe.periodSeconds ?? 10) * 1000;
    this.timer = setTimeout(() => void this.tick(), periodMs);
  }

  private record(result: ProbeResult): void {
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      if (this.current !== true && this.successes >= Math.max(1, this.probe.successThreshold ?? 1)) {
        this.current = true;
        this.hooks.onChange(true, result);
      }
    } else {
      this.successes = 0;
      this.failures++;
      this.hooks.onFailure(result);
      if (this.current !== false && this.failures >= Math.max(1, this.probe.failureThreshold ?? 3)) {
        this.current = false;
        this.hooks.onChange(false, result);
      }
    }
  }
}
