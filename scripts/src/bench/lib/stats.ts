/** The q-quantile (0..1) of an ascending array. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Print rows as an aligned table on stderr (stdout carries the JSON lines). */
export function printTable(rows: Array<Record<string, unknown>>): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  process.stderr.write(`${line(headers.map((h) => h.toUpperCase()))}\n`);
  for (const r of rows) process.stderr.write(`${line(headers.map((h) => String(r[h])))}\n`);
}
