// The shapes shared by the checker, the models and the recorder.

/**
 * One client operation in a history.
 *
 * Real-time order: operation `a` precedes operation `b` when `a.return <= b.call`
 * (a response and an invocation at the same instant count as "response first").
 * The one exception is two zero-length operations at the same instant
 * (`call == return == t` for both): they would precede each other, so the one with
 * the smaller `id` goes first. See README.md, "Time convention".
 */
export interface Operation<I, O> {
  /** Unique within a history. The recorder assigns ids in invocation order. */
  id: number;
  clientId: number;
  input: I;
  /** Invocation time (monotonic, any unit). */
  call: number;
  /**
   * 'ok': completed with `output` at `return`.
   * 'unknown': may or may not have taken effect (e.g. a timeout); `return` is treated
   * as +Infinity and any output is accepted. Operations that definitely failed (never
   * took effect) do not belong in a history at all.
   */
  status: 'ok' | 'unknown';
  /** Response time; Infinity for unknown operations (the checker ignores it for them). */
  return: number;
  /** Required when status is 'ok'; ignored when 'unknown'. */
  output?: O;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * The new state if `input` producing `output` is legal in `state`, else undefined.
   * `output` undefined means an unknown outcome: any output is accepted.
   * Must be a pure function of its arguments.
   */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /**
   * Split a history into independent sub-histories (e.g. by key); default: one partition.
   * May also leave out operations that constrain nothing (e.g. a get with unknown outcome).
   */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  /** Canonical string of a state, for memoizing (linearized set, state) pairs. */
  key(state: S): string;
  /** e.g. "put(x, 3)" / "get(x) -> 3" / "cas(x, 1->2) -> false" */
  describeOperation(op: Operation<I, O>): string;
  /**
   * Optional, for speed: true if this completed operation leaves the state unchanged in
   * every state where it is legal (a read). The search then takes such an operation
   * as soon as it fits, without branching on it.
   */
  readOnly?(input: I, output: O): boolean;
  /**
   * Optional, for speed: a canonical string of an input (equal strings = equal inputs).
   * Unknown-outcome operations with equal inputs are interchangeable, so the search
   * only ever uses the earliest-invoked unused one.
   */
  inputKey?(input: I): string;
  /** Optional: a label for one partition, reported with a violation (e.g. the key). */
  partitionKey?(ops: Operation<I, O>[]): string;
  /**
   * Optional, used only to shrink a violation window: every state that some
   * linearization of (a subset of) `before` could leave behind, including init().
   * A superset is fine, and states that no operation in `window` can tell apart may
   * be merged into one. Without it, a violation window always starts at the
   * beginning of its partition.
   */
  statesAfter?(before: Operation<I, O>[], window: Operation<I, O>[]): S[];
}

export interface CheckOptions {
  /** Give up with result 'unknown' after this long (default 10 000 ms). */
  timeoutMs?: number;
  /** Clock for the budget, in milliseconds (default performance.now). */
  now?: () => number;
}

export interface Violation {
  /** The failing partition's label, when the model has partitionKey(). */
  partitionKey?: string;
  /**
   * A short history that is itself non-linearizable (re-checked), in call order.
   * Operations that were still running where the window was cut appear with
   * status 'unknown'.
   */
  window: Operation<any, any>[];
  explanation: string;
}

export interface CheckResult {
  /** 'unknown' = the time budget (or the search's memory bound) ran out before an answer. */
  result: 'ok' | 'illegal' | 'unknown';
  ops: number;
  partitions: number;
  elapsedMs: number;
  /** Present when result is 'illegal'. */
  violation?: Violation;
}
