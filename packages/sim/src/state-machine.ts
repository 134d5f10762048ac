/**
 * The replicated state machine each simulated node runs: a tiny key-value map
 * applying JSON commands. It dedupes nothing: every proposal carries a fresh
 * operation id and is applied each time it appears in the log.
 */

export type KvWriteOp = 'put' | 'cas' | 'delete';

export interface KvCommand {
  /** Unique per proposal; lets the proposing client recognise its entry when it is applied. */
  id: number;
  op: KvWriteOp;
  key: string;
  value?: string;
  /** cas only: the value the key must hold (null: the key must be absent). */
  expected?: string | null;
}

export type KvWriteResult = { op: 'put' } | { op: 'cas'; ok: boolean } | { op: 'delete'; deleted: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const text = decoder.decode(data);
  const cmd = JSON.parse(text) as KvCommand;
  if (typeof cmd !== 'object' || cmd === null || typeof cmd.id !== 'number' || typeof cmd.key !== 'string') {
    throw new Error(`state machine: malformed command entry: ${text}`);
  }
  if (cmd.op !== 'put' && cmd.op !== 'cas' && cmd.op !== 'delete') {
    throw new Error(`state machine: unknown op ${JSON.stringify(cmd.op)} in ${text}`);
  }
  return cmd;
}

interface SerializedKv {
  applied: number;
  kv: Array<[string, string]>;
}

export class KvStateMachine {
  private readonly kv = new Map<string, string>();
  /** Index of the last log entry (or snapshot) reflected in this state. */
  applied = 0;

  get(key: string): string | null {
    return this.kv.get(key) ?? null;
  }

  apply(index: number, cmd: KvCommand): KvWriteResult {
    this.applied = index;
    switch (cmd.op) {
      case 'put':
        this.kv.set(cmd.key, cmd.value ?? '');
        return { op: 'put' };
      case 'cas': {
        const current = this.kv.get(cmd.key) ?? null;
        const ok = current === (cmd.expected ?? null);
        if (ok) this.kv.set(cmd.key, cmd.value ?? '');
        return { op: 'cas', ok };
      }
      case 'delete':
        return { op: 'delete', deleted: this.kv.delete(cmd.key) };
    }
  }

  /** Deterministic bytes: keys sorted, applied index included. Equal states serialize equally. */
  serialize(): Uint8Array {
    const kv = [...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const body: SerializedKv = { applied: this.applied, kv };
    return encoder.encode(JSON.stringify(body));
  }

  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.length === 0) return sm;
    const body = JSON.parse(decoder.decode(data)) as SerializedKv;
    sm.applied = body.applied;
    for (const [k, v] of body.kv) sm.kv.set(k, v);
    return sm;
  }
}
