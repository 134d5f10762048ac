// The building blocks of `describe`: indented `Key:\tvalue` lines aligned like kubectl's
// tabwriter, maps and lists spread over several lines, times in kubectl's format.
import { LAST_APPLIED_ANNOTATION, type ObjectMeta } from '@bramble/api';
import { alignTabs } from './tabwriter.js';

const INDENT = '  ';

export class DescribeWriter {
  private readonly lines: string[] = [];

  /** One line at `level` (two spaces each): cells joined by tabs, so they align with their neighbours. */
  line(level: number, ...cells: string[]): void {
    this.lines.push(INDENT.repeat(level) + cells.map((c) => c.replace(/[\t\n]/g, ' ')).join('\t'));
  }

  /** A line of text that takes no part in alignment (multi-line values such as ConfigMap data). */
  raw(text: string): void {
    for (const l of text.split('\n')) this.lines.push(l.replace(/\t/g, ' '));
  }

  /** `Key:\tfirst` then `\tsecond` ... (or `<none>`), e.g. labels one per line. */
  list(level: number, key: string, items: string[]): void {
    if (items.length === 0) {
      this.line(level, `${key}:`, '<none>');
      return;
    }
    items.forEach((item, i) => this.line(level, i === 0 ? `${key}:` : '', item));
  }

  toString(): string {
    return alignTabs(this.lines.join('\n') + '\n');
  }
}

export function orNone(v: string | number | undefined | null): string {
  return v === undefined || v === null || v === '' ? '<none>' : String(v);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sun, 22 Nov 2026 11:15:29 +0000` (kubectl describe's time format, RFC 1123 with a numeric zone), in UTC. */
export function describeTime(timestamp: string | undefined): string {
  if (!timestamp) return '<unset>';
  const t = new Date(timestamp);
  if (Number.isNaN(t.getTime())) return timestamp;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[t.getUTCDay()]}, ${p(t.getUTCDate())} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())} +0000`;
}

export function mapLines(m: Record<string, string> | undefined, sep = '='): string[] {
  return Object.entries(m ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}${sep}${v}`);
}

/** Name, Namespace, Labels, Annotations (the last-applied manifest left out, as kubectl does). */
export function describeMeta(w: DescribeWriter, meta: ObjectMeta, opts: { namespaced: boolean }): void {
  w.line(0, 'Name:', meta.name ?? '');
  if (opts.namespaced) w.line(0, 'Namespace:', meta.namespace ?? '');
  describeLabels(w, meta);
}

/** Labels and Annotations, one per line. */
export function describeLabels(w: DescribeWriter, meta: ObjectMeta): void {
  w.list(0, 'Labels', mapLines(meta.labels));
  const annotations = { ...(meta.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  w.list(0, 'Annotations', mapLines(annotations, ': '));
}

/** `Controlled By:  ReplicaSet/web-7d9f8`, when an owner is the controller. */
export function describeController(w: DescribeWriter, meta: ObjectMeta): void {
  const owner = meta.ownerReferences?.find((o) => o.controller);
  if (owner) w.line(0, 'Controlled By:', `${owner.kind}/${owner.name}`);
}
