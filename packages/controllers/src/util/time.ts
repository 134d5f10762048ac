/** Timestamps: controllers hold times as ms numbers and write RFC 3339 strings. No clock is read here. */

/** `ms` (since the epoch) as an RFC 3339 timestamp with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** An RFC 3339 timestamp in ms since the epoch; `undefined` for a missing or unparsable one. */
export function parseTime(time: string | undefined): number | undefined {
  if (time === undefined) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}
