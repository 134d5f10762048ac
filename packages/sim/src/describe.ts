import { Buffer } from 'node:buffer';
import { EntryType, MessageType, type ConfState, type Entry, type HardState, type Message } from '@bramble/raft';

/** Short readable text for trace lines. */

export function describeMessage(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} term=${m.term}`;
  switch (m.type) {
    case MessageType.App:
      s += ` index=${m.index} logTerm=${m.logTerm} entries=${m.entries.length}`;
      if (m.entries.length > 0) s += ` [${m.entries[0].index}..${m.entries[m.entries.length - 1].index}]`;
      s += ` commit=${m.commit}`;
      break;
    case MessageType.AppResp:
      s += ` index=${m.index}`;
      if (m.reject) s += ` reject hint=${m.rejectHint} logTerm=${m.logTerm}`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      s += ` lastIndex=${m.index} lastTerm=${m.logTerm}`;
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      s += m.reject ? ' reject' : ' grant';
      break;
    case MessageType.Heartbeat:
      s += ` commit=${m.commit}`;
      break;
    case MessageType.Snap:
      if (m.snapshot !== undefined) s += ` snapshot index=${m.snapshot.meta.index} term=${m.snapshot.meta.term} conf=${describeConf(m.snapshot.meta.confState)}`;
      break;
    case MessageType.Prop:
      s += ` entries=${m.entries.length}`;
      break;
    case MessageType.ReadIndex:
    case MessageType.ReadIndexResp:
      s += ` index=${m.index}`;
      if (m.context !== undefined) s += ` ctx=${describeBytes(m.context)}`;
      break;
    case MessageType.TransferLeader:
      if (m.transferee !== undefined) s += ` transferee=${m.transferee}`;
      break;
    default:
      break;
  }
  return s;
}

export function describeConf(c: ConfState): string {
  const learners = c.learners.length > 0 ? ` learners=${c.learners.join(',')}` : '';
  return `{voters=${c.voters.join(',')}${learners}}`;
}

export function describeHardState(hs: HardState): string {
  return `term=${hs.term} vote=${hs.vote === '' ? '-' : hs.vote} commit=${hs.commit}`;
}

export function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return 'none';
  const first = entries[0];
  const last = entries[entries.length - 1];
  const terms = first.term === last.term ? `t${first.term}` : `t${first.term}..t${last.term}`;
  return first.index === last.index ? `${first.index} (${terms})` : `${first.index}..${last.index} (${terms})`;
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) return `${e.index}:t${e.term}:conf ${describeBytes(e.data)}`;
  if (e.data.length === 0) return `${e.index}:t${e.term}:noop`;
  return `${e.index}:t${e.term}:${describeBytes(e.data)}`;
}

export function describeBytes(b: Uint8Array): string {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}
