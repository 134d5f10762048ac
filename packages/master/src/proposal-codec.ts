import type { KvCommand } from '@bramble/kv';

/**
 * The payload of a Normal log entry: a KV command plus who proposed it, so that the
 * proposing master (and only it) can answer the waiting client when the entry applies.
 */
export interface Proposal {
  /** Proposing member. */
  origin: string;
  /** Per-origin sequence number (resets when the master restarts; paired with `boot`). */
  seq: number;
  /** Identifies one run of the origin process, so a restarted master never matches an old seq. */
  boot: string;
  cmd: KvCommand;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeProposal(p: Proposal): Uint8Array {
  return encoder.encode(JSON.stringify({ o: p.origin, b: p.boot, s: p.seq, c: p.cmd }));
}

export function decodeProposal(data: Uint8Array): Proposal {
  const raw = JSON.parse(decoder.decode(data)) as { o: string; b: string; s: number; c: KvCommand };
  return { origin: raw.o, boot: raw.b, seq: raw.s, cmd: raw.c };
}

/** Conf change context: where the member can be reached. */
export interface MemberContext {
  address: string;
  httpAddress: string;
  /** Stay a learner: do not promote automatically once caught up. */
  stayLearner?: boolean;
  /** Unique request id so the proposer can match the applied change. */
  requestId?: string;
}

export function encodeMemberContext(ctx: MemberContext): string {
  return JSON.stringify(ctx);
}

export function decodeMemberContext(raw: string | undefined): MemberContext | undefined {
  if (!raw) return undefined;
  try {
    const ctx = JSON.parse(raw) as MemberContext;
    return typeof ctx.address === 'string' ? ctx : undefined;
  } catch {
    return undefined;
  }
}
