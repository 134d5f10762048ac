// Column alignment as Go's text/tabwriter does it (kubectl describe writes through one
// with padding 2): a line is cells separated by tabs; a cell followed by a tab belongs to
// a column, and each run of consecutive lines that have a cell in a column is padded to
// that run's widest cell. The last cell of a line is never padded.

const PADDING = 2;

function width(s: string): number {
  return [...s].length;
}

/** Align `text` (lines of tab-separated cells) the way kubectl describe does. */
export function alignTabs(text: string): string {
  const trailingNewline = text.endsWith('\n');
  const lines = (trailingNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const out: string[] = new Array<string>(lines.length);
  format(lines, out, 0, lines.length, []);
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

/** Lay out lines [from, to) given the widths of the columns to their left (recursively, column by column). */
function format(lines: string[][], out: string[], from: number, to: number, widths: number[]): void {
  const column = widths.length;
  let start = from;
  let i = from;
  while (i < to) {
    if (column >= lines[i].length - 1) {
      i++;
      continue;
    }
    writeLines(lines, out, start, i, widths);
    const blockStart = i;
    let w = 0;
    for (; i < to && column < lines[i].length - 1; i++) w = Math.max(w, width(lines[i][column]) + PADDING);
    format(lines, out, blockStart, i, [...widths, w]);
    start = i;
  }
  writeLines(lines, out, start, to, widths);
}

function writeLines(lines: string[][], out: string[], from: number, to: number, widths: number[]): void {
  for (let i = from; i < to; i++) {
    out[i] = lines[i]
      .map((c, j) => (j < widths.length && j < lines[i].length - 1 ? c + ' '.repeat(Math.max(0, widths[j] - width(c))) : c))
      .join('')
      .trimEnd();
  }
}
