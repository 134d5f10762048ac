// How results are printed: kubectl-style tables (uppercase headers, columns separated by
// three spaces, no borders) or the full objects as JSON / YAML.
import { yamlLibrary } from '@bramble/api';
import type { KeyValue, ResponseHeader } from '@bramble/client';

/** `wide` and `name` are the kubectl-like resource commands' (elsewhere they print the table). */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml', 'wide', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const COLUMN_GAP = '   ';

/**
 * Rows under uppercase headers, each column as wide as its widest cell, separated by
 * three spaces; no trailing spaces. Cells are made single-line (see `cell`).
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(cell))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  return all.map((r) => formatRow(r, widths)).join('\n') + '\n';
}

/** One row padded to `widths` (for streams that print rows as they come). */
export function formatRow(row: string[], widths: number[]): string {
  const last = row.length - 1;
  return row.map((c, i) => (i === last ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c))))).join(COLUMN_GAP).trimEnd();
}

export function columnWidths(headers: string[], rows: string[][]): number[] {
  const all = [headers, ...rows.map((r) => r.map(cell))];
  return headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
}

function width(s: string): number {
  return [...s].length;
}

/** A table cell on one line: newlines, tabs and other control characters escaped as \n, \t, \xNN. */
export function cell(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\t':
        return '\\t';
      case '\r':
        return '\\r';
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text when they are valid UTF-8, else undefined. */
export function utf8OrUndefined(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** Bytes for a table: UTF-8 text, or with invalid bytes shown as \xNN. */
export function displayBytes(b: Buffer): string {
  const text = utf8OrUndefined(b);
  if (text !== undefined) return text;
  let out = '';
  for (const byte of b) out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/** `field: text` for valid UTF-8, `fieldBase64: ...` otherwise, so JSON output is unambiguous. */
function bytesField(field: string, b: Buffer): Record<string, string> {
  const text = utf8OrUndefined(b);
  return text !== undefined ? { [field]: text } : { [`${field}Base64`]: b.toString('base64') };
}

export interface KeyValueView {
  key?: string;
  keyBase64?: string;
  value?: string;
  valueBase64?: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: number;
}

/** A KeyValue for JSON/YAML output. */
export function kvView(kv: KeyValue, opts: { keysOnly?: boolean } = {}): KeyValueView {
  return {
    ...bytesField('key', kv.key),
    ...(opts.keysOnly ? {} : bytesField('value', kv.value)),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  } as KeyValueView;
}

export function headerView(h: ResponseHeader): ResponseHeader {
  return { clusterId: h.clusterId, member: h.member, revision: h.revision, raftTerm: h.raftTerm, leader: h.leader };
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer, 2) + '\n';
}

/** One line, for streams (`kv watch -o json`). */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, jsonReplacer) + '\n';
}

function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  return v;
}

export function toYaml(value: unknown): string {
  return yamlLibrary().stringify(value, { lineWidth: 0 });
}

/** Render `value` as JSON or YAML, or call `table` for the table form. */
export function render(format: OutputFormat, value: unknown, table: () => string): string {
  switch (format) {
    case 'json':
      return toJson(value);
    case 'yaml':
      return toYaml(value);
    default:
      return table();
  }
}

/** A lease column: the id, or <none> for 0. */
export function leaseCell(id: number): string {
  return id === 0 ? '<none>' : String(id);
}
