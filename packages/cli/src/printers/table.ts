// `get` tables: one kind's objects under kubectl's headers, optionally with a NAMESPACE
// column first (-A), `kind/name` names (`get all`, several kinds), -o wide columns and
// a LABELS column (--show-labels). Rows can also be produced one at a time for -w.
import type { KindName, Resource, ResourceKinds } from '@bramble/api';
import { cell, columnWidths, formatRow, formatTable } from '../output.js';
import { columnsFor } from './columns.js';
import { kindRef } from './names.js';

export interface TableOptions {
  nowMs: number;
  wide?: boolean;
  /** A NAMESPACE column first (-A). */
  withNamespace?: boolean;
  /** Names as `deployment.apps/web` (when several kinds are printed together). */
  withKind?: boolean;
  /** A LABELS column last. */
  showLabels?: boolean;
}

export interface Table {
  headers: string[];
  rows: string[][];
}

function labelsCell(obj: Resource): string {
  const entries = Object.entries(obj.metadata.labels ?? {});
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

export function tableHeaders(kind: KindName, opts: Omit<TableOptions, 'nowMs'>): string[] {
  const c = columnsFor(kind);
  return [
    ...(opts.withNamespace ? ['NAMESPACE'] : []),
    ...c.headers,
    ...(opts.wide && c.wideHeaders ? c.wideHeaders : []),
    ...(opts.showLabels ? ['LABELS'] : []),
  ];
}

/** One object's cells, in the order of `tableHeaders`. */
export function tableRow<K extends KindName>(kind: K, obj: ResourceKinds[K], opts: TableOptions): string[] {
  const c = columnsFor(kind);
  const row = c.row(obj, opts.nowMs);
  // The name column is the first one for every kind but Event (whose rows lead with LAST SEEN).
  if (opts.withKind && kind !== 'Event') row[0] = `${kindRef(kind)}/${row[0]}`;
  return [
    ...(opts.withNamespace ? [obj.metadata.namespace ?? ''] : []),
    ...row,
    ...(opts.wide && c.wideRow ? c.wideRow(obj, opts.nowMs) : []),
    ...(opts.showLabels ? [labelsCell(obj)] : []),
  ];
}

export function buildTable<K extends KindName>(kind: K, objects: ResourceKinds[K][], opts: TableOptions): Table {
  return { headers: tableHeaders(kind, opts), rows: objects.map((o) => tableRow(kind, o, opts)) };
}

export function renderTable(t: Table): string {
  return formatTable(t.headers, t.rows);
}

/** `kubectl get` for one kind: the table text. */
export function printObjects<K extends KindName>(kind: K, objects: ResourceKinds[K][], opts: TableOptions): string {
  return renderTable(buildTable(kind, objects, opts));
}

/**
 * Prints a table and then more rows as they come (`get -w`): the column widths are
 * fixed by the first rows printed (or the headers), as kubectl's watch output does.
 */
export class StreamingTable {
  private widths: number[] | undefined;

  constructor(private readonly headers: string[]) {}

  /** The text for `rows`: the header line first when nothing was printed yet. */
  print(rows: string[][]): string {
    let out = '';
    if (this.widths === undefined) {
      this.widths = columnWidths(this.headers, rows);
      out += formatRow(this.headers, this.widths) + '\n';
    }
    for (const r of rows) out += formatRow(r.map(cell), this.widths) + '\n';
    return out;
  }
}
