import { ProposalDroppedError, type NodeId, type ReadState } from '@bramble/raft';
import type { HistoryRecorder, KvInput, KvOutput } from '@bramble/linearizability';
import type { Prng } from './prng.js';
import { encodeCommand, type KvCommand, type KvWriteResult } from './state-machine.js';

/** What clients need from the simulated cluster. */
export interface ClientEnv {
  /** Simulator time now (units; 1 tick = 10). */
  now(): number;
  /** A running node for a client to talk to (a fresh choice, possibly a stale leader hint), or undefined if none runs. */
  chooseNode(): NodeId | undefined;
  isUp(node: NodeId): boolean;
  incarnation(node: NodeId): number;
  /** Propose on `node` (throws ProposalDroppedError) and process its Ready. */
  propose(node: NodeId, data: Uint8Array): void;
  /** Ask `node` for a read index (throws ProposalDroppedError) and process its Ready. */
  readIndex(node: NodeId, context: Uint8Array): void;
  /** The value of `key` in `node`'s state machine, and the index it has applied. */
  read(node: NodeId, key: string): string | null;
  applied(node: NodeId): number;
  /** Highest log index known committed anywhere in the cluster right now. */
  committedIndex(): number;
  /** Report a safety violation (throws). */
  fail(detail: string, node: NodeId): never;
  trace(line: string): void;
}

export interface ClientOptions {
  clients: number;
  keys: number;
  /** A write without an answer after this many time units is recorded 'unknown'. */
  writeTimeout: number;
  /** A read without an answer after this many time units is recorded as failed (a read has no effect). */
  readTimeout: number;
}

export interface ClientStats {
  invoked: number;
  ok: number;
  /** Definitely not applied (the proposal was refused, or a read never answered). */
  failed: number;
  /** Writes whose outcome is unknown (timeout, node crash, end of run). */
  unknown: number;
  reads: number;
  writes: number;
}

interface PendingOp {
  historyId: number;
  input: KvInput;
  node: NodeId;
  incarnation: number;
  deadline: number;
  /** Writes: the command id in the log. */
  opId?: number;
  /** Reads: the ReadIndex context, and the index to wait for once confirmed. */
  context?: string;
  readIndex?: number;
  /** Reads: the highest index known committed when the read was invoked; the read index must cover it. */
  committedAtInvoke?: number;
}

interface Client {
  id: number;
  node: NodeId | undefined;
  pending: PendingOp | undefined;
  /** Last value this client saw per key; feeds cas expectations so that some succeed. */
  seen: Map<string, string | null>;
  seq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Clients of the replicated KV store. Each has at most one operation outstanding
 * and sticks to one node until that node fails it. Writes go through propose()
 * and complete when the chosen node applies the entry carrying the op id; reads
 * go through ReadIndex and are answered from that node's state machine once it
 * has applied up to the confirmed index. Every invocation and outcome is recorded
 * in the history for the linearizability check.
 */
export class Clients {
  private readonly clients: Client[] = [];
  private readonly keys: string[] = [];
  private readonly writesByOpId = new Map<number, Client>();
  private readonly readsByContext = new Map<string, Client>();
  /** Recently written values, to build cas expectations from. */
  private readonly recentValues: string[] = [];
  private nextOpId = 1;
  private nextReadId = 1;
  readonly stats: ClientStats = { invoked: 0, ok: 0, failed: 0, unknown: 0, reads: 0, writes: 0 };

  constructor(
    private readonly env: ClientEnv,
    private readonly prng: Prng,
    private readonly recorder: HistoryRecorder<KvInput, KvOutput>,
    private readonly opts: ClientOptions,
  ) {
    for (let i = 0; i < opts.keys; i++) this.keys.push(`k${i}`);
    for (let i = 0; i < opts.clients; i++) this.clients.push({ id: i + 1, node: undefined, pending: undefined, seen: new Map(), seq: 0 });
  }

  idleCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.pending === undefined) n++;
    return n;
  }

  pendingCount(): number {
    return this.clients.length - this.idleCount();
  }

  /** Start one operation on a random idle client. Returns false when every client is busy or no node runs. */
  issue(): boolean {
    const idle = this.clients.filter((c) => c.pending === undefined);
    if (idle.length === 0) return false;
    const client = this.prng.pick(idle);
    if (client.node === undefined || !this.env.isUp(client.node)) client.node = this.env.chooseNode();
    const node = client.node;
    if (node === undefined) return false;
    const input = this.nextInput(client);
    if (input.op === 'get') this.startRead(client, node, input);
    else this.startWrite(client, node, input);
    return true;
  }

  private nextInput(client: Client): KvInput {
    const key = this.prng.pick(this.keys);
    const r = this.prng.next();
    if (r < 0.4) return { op: 'get', key };
    const value = `c${client.id}.${++client.seq}`;
    if (r < 0.68) return { op: 'put', key, value };
    if (r < 0.88) {
      let expected: string | null;
      const e = this.prng.next();
      if (e < 0.6 && client.seen.has(key)) expected = client.seen.get(key) ?? null;
      else if (e < 0.8 || this.recentValues.length === 0) expected = null;
      else expected = this.prng.pick(this.recentValues);
      return { op: 'cas', key, expected, value };
    }
    return { op: 'delete', key };
  }

  private startWrite(client: Client, node: NodeId, input: KvInput): void {
    const now = this.env.now();
    const opId = this.nextOpId++;
    const cmd: KvCommand = { id: opId, op: input.op as KvCommand['op'], key: input.key };
    if (input.op === 'put' || input.op === 'cas') cmd.value = input.value;
    if (input.op === 'cas') cmd.expected = input.expected;
    if (cmd.value !== undefined) {
      this.recentValues.push(cmd.value);
      if (this.recentValues.length > 16) this.recentValues.shift();
    }
    this.stats.invoked++;
    this.stats.writes++;
    const historyId = this.recorder.invoke(client.id, input);
    this.env.trace(`client ${client.id} -> ${node}: ${describeInput(input)} op=${opId}`);
    client.pending = { historyId, input, node, incarnation: this.env.incarnation(node), deadline: now + this.opts.writeTimeout, opId };
    this.writesByOpId.set(opId, client);
    try {
      this.env.propose(node, encodeCommand(cmd));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.writesByOpId.delete(opId);
      this.finish(client, 'fail', `refused: ${err.message}`);
      client.node = undefined;
    }
  }

  private startRead(client: Client, node: NodeId, input: KvInput): void {
    const now = this.env.now();
    const context = `r${this.nextReadId++}`;
    this.stats.invoked++;
    this.stats.reads++;
    const historyId = this.recorder.invoke(client.id, input);
    this.env.trace(`client ${client.id} -> ${node}: ${describeInput(input)} ctx=${context}`);
    client.pending = {
      historyId,
      input,
      node,
      incarnation: this.env.incarnation(node),
      deadline: now + this.opts.readTimeout,
      context,
      committedAtInvoke: this.env.committedIndex(),
    };
    this.readsByContext.set(context, client);
    try {
      this.env.readIndex(node, encoder.encode(context));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.readsByContext.delete(context);
      this.finish(client, 'fail', `refused: ${err.message}`);
      client.node = undefined;
    }
  }

  /** `node` applied client command `cmd` with `result`. */
  onApplied(node: NodeId, cmd: KvCommand, result: KvWriteResult): void {
    const client = this.writesByOpId.get(cmd.id);
    if (client === undefined) return;
    const p = client.pending;
    if (p === undefined || p.opId !== cmd.id || p.node !== node) return;
    this.writesByOpId.delete(cmd.id);
    let output: KvOutput;
    switch (result.op) {
      case 'put':
        output = { op: 'put' };
        client.seen.set(cmd.key, cmd.value ?? '');
        break;
      case 'cas':
        output = { op: 'cas', ok: result.ok };
        if (result.ok) client.seen.set(cmd.key, cmd.value ?? '');
        break;
      case 'delete':
        output = { op: 'delete', deleted: result.deleted };
        client.seen.set(cmd.key, null);
        break;
    }
    this.finish(client, 'ok', describeOutput(output), output);
  }

  /** `node` delivered a confirmed read index. */
  onReadState(node: NodeId, rs: ReadState): void {
    const context = decoder.decode(rs.context);
    const client = this.readsByContext.get(context);
    if (client === undefined) return;
    const p = client.pending;
    if (p === undefined || p.context !== context || p.node !== node) return;
    if (p.committedAtInvoke !== undefined && rs.index < p.committedAtInvoke) {
      this.env.fail(
        `${node} confirmed read ${context} (${describeInput(p.input)}) at index ${rs.index}, but index ${p.committedAtInvoke} was already committed when the read was invoked`,
        node,
      );
    }
    p.readIndex = rs.index;
    this.tryServeRead(client);
  }

  /** `node` applied more entries: serve reads that were waiting for them. */
  onAppliedUpTo(node: NodeId): void {
    for (const client of this.clients) {
      const p = client.pending;
      if (p !== undefined && p.node === node && p.readIndex !== undefined) this.tryServeRead(client);
    }
  }

  private tryServeRead(client: Client): void {
    const p = client.pending;
    if (p === undefined || p.readIndex === undefined || p.context === undefined) return;
    if (this.env.applied(p.node) < p.readIndex) return;
    const value = this.env.read(p.node, p.input.key);
    this.readsByContext.delete(p.context);
    client.seen.set(p.input.key, value);
    const output: KvOutput = { op: 'get', value };
    this.finish(client, 'ok', `${describeOutput(output)} (read index ${p.readIndex})`, output);
  }

  /** `node` crashed or stopped: whatever its clients were waiting for will never be answered by it. */
  onNodeDown(node: NodeId): void {
    for (const client of this.clients) {
      const p = client.pending;
      if (p !== undefined && p.node === node) this.abandon(client, `${node} went down`);
      if (client.node === node) client.node = undefined;
    }
  }

  /** Give up on operations past their deadline. */
  checkDeadlines(): void {
    const now = this.env.now();
    for (const client of this.clients) {
      const p = client.pending;
      if (p !== undefined && now >= p.deadline) {
        this.abandon(client, 'timed out');
        client.node = undefined;
      }
    }
  }

  /** End of run: every outstanding operation is abandoned. */
  abandonAll(): void {
    for (const client of this.clients) if (client.pending !== undefined) this.abandon(client, 'run ended');
  }

  /** A write may still take effect: 'unknown'. A read has no effect: failed. */
  private abandon(client: Client, why: string): void {
    const p = client.pending;
    if (p === undefined) return;
    if (p.opId !== undefined) this.writesByOpId.delete(p.opId);
    if (p.context !== undefined) this.readsByContext.delete(p.context);
    client.seen.delete(p.input.key);
    this.finish(client, p.input.op === 'get' ? 'fail' : 'unknown', why);
  }

  private finish(client: Client, outcome: 'ok' | 'fail' | 'unknown', detail: string, output?: KvOutput): void {
    const p = client.pending;
    if (p === undefined) return;
    client.pending = undefined;
    switch (outcome) {
      case 'ok':
        this.recorder.ok(p.historyId, output as KvOutput);
        this.stats.ok++;
        break;
      case 'fail':
        this.recorder.fail(p.historyId);
        this.stats.failed++;
        break;
      case 'unknown':
        this.recorder.unknown(p.historyId);
        this.stats.unknown++;
        break;
    }
    this.env.trace(`client ${client.id} <- ${p.node}: ${describeInput(p.input)} ${outcome}: ${detail}`);
  }
}

export function describeInput(input: KvInput): string {
  switch (input.op) {
    case 'put':
      return `put(${input.key}, ${input.value})`;
    case 'get':
      return `get(${input.key})`;
    case 'cas':
      return `cas(${input.key}, ${input.expected ?? 'null'}->${input.value})`;
    case 'delete':
      return `delete(${input.key})`;
  }
}

function describeOutput(output: KvOutput): string {
  switch (output.op) {
    case 'put':
      return 'done';
    case 'get':
      return `-> ${output.value ?? 'null'}`;
    case 'cas':
      return `-> ${output.ok}`;
    case 'delete':
      return `-> ${output.deleted}`;
  }
}
