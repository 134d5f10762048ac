// A violation as a timeline a person can read.

import type { CheckResult, Model, Operation } from './types.js';

const BAR_WIDTH = 32;

function showTime(t: number): string {
  if (t === Infinity) return '∞';
  return Number.isInteger(t) ? String(t) : String(Number(t.toFixed(3)));
}

/** `|====|` between call and return, scaled to the window; an unknown outcome runs off the end. */
function bar(op: Operation<unknown, unknown>, from: number, to: number): string {
  const span = to - from;
  const col = (t: number): number => (span <= 0 ? 0 : Math.round(((t - from) / span) * (BAR_WIDTH - 1)));
  const start = col(op.call);
  if (op.status !== 'ok') return ' '.repeat(start) + '|' + '-'.repeat(BAR_WIDTH - 1 - start) + '>';
  const end = Math.max(start, col(op.return));
  const body = end === start ? '|' : '|' + '='.repeat(end - start - 1) + '|';
  return (' '.repeat(start) + body).padEnd(BAR_WIDTH + 1);
}

/**
 * A summary line, and for an illegal result one line per operation of the violation
 * window (id, client, [call, return], a bar, the description) followed by the explanation.
 */
export function formatViolation(result: CheckResult, model: Model<any, any, any>): string {
  const head =
    `${result.ops} operation${result.ops === 1 ? '' : 's'} in ${result.partitions} partition${result.partitions === 1 ? '' : 's'},` +
    ` ${showTime(result.elapsedMs)} ms`;
  if (result.result === 'ok') return `linearizable: ${head}`;
  if (result.result === 'unknown') return `unknown (time budget exhausted): ${head}`;
  const violation = result.violation;
  if (violation === undefined) return `not linearizable: ${head} (no violation window recorded)`;

  const ops = violation.window as Operation<unknown, unknown>[];
  const finite = ops.flatMap((op) => (op.status === 'ok' ? [op.call, op.return] : [op.call]));
  const from = Math.min(...finite);
  const to = Math.max(...finite);
  const rows = ops.map((op) => ({
    id: `#${op.id}`,
    client: `client ${op.clientId}`,
    interval: `[${showTime(op.call)}, ${showTime(op.status === 'ok' ? op.return : Infinity)}]`,
    bar: bar(op, from, to),
    what: model.describeOperation(op),
  }));
  const width = (pick: (r: (typeof rows)[number]) => string): number => Math.max(0, ...rows.map((r) => pick(r).length));
  const [wId, wClient, wInterval] = [width((r) => r.id), width((r) => r.client), width((r) => r.interval)];
  const where = violation.partitionKey === undefined ? '' : ` on ${violation.partitionKey}`;
  const lines = [
    `not linearizable${where}: ${ops.length}-operation window (${head})`,
    ...rows.map(
      (r) => `  ${r.id.padEnd(wId)}  ${r.client.padEnd(wClient)}  ${r.interval.padEnd(wInterval)}  ${r.bar} ${r.what}`,
    ),
    ...violation.explanation.split('\n').map((line) => `  ${line}`),
  ];
  return lines.join('\n');
}
