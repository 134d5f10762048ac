/** IntOrString values: counts-or-percentages (`maxSurge: 25%`) and port-numbers-or-names (`targetPort: http`). */
import { ApiError } from './errors.js';
import type { IntOrString } from './types/meta.js';

const PERCENT_RE = /^(0|[1-9][0-9]{0,8})%$/;

/** "25%" -> 25; undefined if `value` is not a percentage. */
export function parsePercent(value: string): number | undefined {
  const m = PERCENT_RE.exec(value);
  return m ? Number(m[1]) : undefined;
}

/**
 * Resolves a count-or-percentage against `total`, like Kubernetes'
 * GetScaledValueFromIntOrPercent: a number is returned as is; "25%" of 10 is
 * 3 rounded up (maxSurge) or 2 rounded down (maxUnavailable).
 */
export function scaledValue(value: IntOrString, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const percent = parsePercent(value);
  if (percent === undefined) {
    throw new ApiError('BadRequest', `invalid value for IntOrString: ${JSON.stringify(value)}: must be an integer or a percentage such as "25%"`);
  }
  const scaled = (percent * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
