// The words under a violation window: what cannot be explained, and how far any order got.

import type { Model, Operation } from './types.js';
import type { ShrunkWindow } from './window.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function showTime(t: number): string {
  return Number.isInteger(t) ? String(t) : String(Number(t.toFixed(3)));
}

/**
 * `window` is the shrunk window with the caller's own operations (the model's
 * partition() may have rewritten the searched ones); `originals` maps ids to those.
 */
export function explainViolation<S, I, O>(
  model: Model<S, I, O>,
  shrunk: ShrunkWindow<S, I, O>,
  window: Operation<I, O>[],
  originals: Map<number, Operation<I, O>>,
  partitionKey: string | undefined,
): string {
  const n = window.length;
  const describe = (index: number): string => `${model.describeOperation(window[index])} #${window[index].id}`;
  const lines: string[] = [];

  let first = `No order of ${n === 1 ? 'this operation' : `these ${n} operations`} respects both real-time order and the model`;
  if (shrunk.droppedBefore > 0) {
    const where = partitionKey === undefined ? '' : ` on ${partitionKey}`;
    first +=
      `, starting from any state the ${plural(shrunk.droppedBefore, 'earlier operation')}${where} could have left` +
      ` (${shrunk.startStates.map((s) => model.key(s)).join(', ')})`;
  }
  lines.push(first + '.');

  if (shrunk.deepest !== undefined) {
    const trace = shrunk.deepest;
    const start = trace.start;
    // Replay the caller's operations, so states show their real values.
    let state: S | undefined = start;
    for (const index of trace.order) {
      const op = window[index];
      if (state !== undefined) state = model.step(state, op.input, op.status === 'ok' ? op.output : undefined);
    }
    const order = trace.order.length === 0 ? 'nothing' : trace.order.map(describe).join(', ');
    lines.push(
      `Longest consistent order, from ${model.key(start)}: ${order}, leaving ${model.key(state ?? trace.state)}.` +
        ` Then none of the operations that may come next can take effect` +
        (window.some((op) => op.status === 'unknown') ? ', whether or not the unknown ones do' : '') +
        `: ${trace.next.map(describe).join(', ')}.`,
    );
  } else {
    lines.push('(Ran out of time before tracing the longest consistent order.)');
  }

  const relaxed = window.filter((op) => op.status === 'unknown' && originals.get(op.id)?.status === 'ok');
  if (relaxed.length > 0) {
    const list = relaxed.map((op) => {
      const original = originals.get(op.id)!;
      return `${model.describeOperation(original)} #${op.id} (returned at ${showTime(original.return)})`;
    });
    lines.push(`Still running where the window was cut, so shown with unknown outcome: ${list.join(', ')}.`);
  }
  return lines.join('\n');
}
