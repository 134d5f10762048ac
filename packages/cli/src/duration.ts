// Durations as kubectl and etcdctl take them: "500ms", "5s", "1m30s", "2h"; a bare number is seconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1_000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

/** "5s" for 5000, "1m30s" for 90000, "250ms" for 250. */
export function formatDurationMs(ms: number): string {
  if (ms % 1_000 !== 0) return `${ms}ms`;
  let s = ms / 1_000;
  const parts: string[] = [];
  if (s >= 3_600) {
    parts.push(`${Math.floor(s / 3_600)}h`);
    s %= 3_600;
  }
  if (s >= 60) {
    parts.push(`${Math.floor(s / 60)}m`);
    s %= 60;
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}
