import { describe, expect, it } from 'vitest';
import { MessageType, type Message } from '@bramble/raft';
import { Backoff, BoundedMessageQueue, WireError, messageCodec, messageFromWire, messageToWire, RAFT_PROTO, type WireBatch } from '../src/index.js';
import { entry, msg } from './helpers.js';

const drain = (q: BoundedMessageQueue) => {
  const out: Message[] = [];
  for (let item = q.shift(); item; item = q.shift()) out.push(item.m);
  return out;
};

describe('BoundedMessageQueue', () => {
  it('drops the oldest appends and heartbeats first, keeping votes and responses', () => {
    const q = new BoundedMessageQueue({ maxBytes: Number.MAX_SAFE_INTEGER, maxMessages: 4 });
    q.push(msg('a', 'b', { type: MessageType.Vote, index: 1 }));
    q.push(msg('a', 'b', { type: MessageType.App, index: 2 }));
    q.push(msg('a', 'b', { type: MessageType.AppResp, index: 3 }));
    q.push(msg('a', 'b', { type: MessageType.Heartbeat, index: 4 }));
    expect(q.push(msg('a', 'b', { type: MessageType.App, index: 5 }))).toBe(1); // drops index 2
    expect(q.push(msg('a', 'b', { type: MessageType.App, index: 6 }))).toBe(1); // drops index 4
    expect(q.dropped).toBe(2);
    expect(drain(q).map((m) => m.index)).toEqual([1, 3, 5, 6]);
  });

  it('drops any oldest message when nothing droppable is left, never the one just pushed', () => {
    const q = new BoundedMessageQueue({ maxBytes: Number.MAX_SAFE_INTEGER, maxMessages: 2 });
    for (let i = 1; i <= 5; i++) q.push(msg('a', 'b', { type: MessageType.Vote, index: i }));
    expect(drain(q).map((m) => m.index)).toEqual([4, 5]);
    expect(q.length).toBe(0);
    expect(q.sizeBytes).toBe(0);
  });

  it('stays within its byte bound over a long run and keeps FIFO order of what survives', () => {
    const q = new BoundedMessageQueue({ maxBytes: 64 * 1024, maxMessages: 1_000_000 });
    const data = new Uint8Array(1000);
    let last = -1;
    for (let i = 0; i < 100_000; i++) {
      q.push(msg('a', 'b', { type: i % 10 === 0 ? MessageType.AppResp : MessageType.App, index: i, entries: [entry(i, data)] }));
      expect(q.sizeBytes).toBeLessThanOrEqual(64 * 1024);
      if (i % 7 === 0) {
        const item = q.shift()!;
        expect(item.m.index).toBeGreaterThan(last);
        last = item.m.index;
      }
    }
    const rest = drain(q).map((m) => m.index);
    expect(rest).toEqual([...rest].sort((a, b) => a - b));
    expect(rest[0]).toBeGreaterThan(last);
  });
});

describe('codec', () => {
  const batchCodec = messageCodec<WireBatch, WireBatch>(RAFT_PROTO, 'bramble.raft.MessageBatch');

  it('round-trips a Message through protobuf bytes, entry data arriving as Buffers without a copy per entry', () => {
    const m = msg('m1', 'm2', { type: MessageType.App, term: 5, logTerm: 4, index: 99, commit: 98, entries: [entry(100, new Uint8Array([1, 2, 3]), 5)] });
    const bytes = batchCodec.serialize({ cluster_id: 'c', from: 'm1', to: 'm2', messages: [messageToWire(m)] });
    const decoded = batchCodec.deserialize(bytes);
    const back = messageFromWire(decoded.messages[0], 'messages[0]');
    expect(back).toEqual({ ...m, entries: [{ ...m.entries[0], data: Buffer.from([1, 2, 3]) }] });
    expect(Buffer.isBuffer(back.entries[0].data)).toBe(true);
    expect((back.entries[0].data as Buffer).buffer).toBe(bytes.buffer);
  });

  it('names the field and the value it rejects', () => {
    const w = messageToWire(msg('m1', 'm2'));
    const bad = (patch: object) => () => messageFromWire({ ...w, ...patch }, 'messages[2]');
    expect(bad({ type: 'MsgNope' })).toThrow('messages[2].type: unknown message type "MsgNope"');
    expect(bad({ type: 'MsgUnknown' })).toThrow(/unknown message type "MsgUnknown"/);
    expect(bad({ term: 2 ** 60 })).toThrow(`messages[2].term: must be an integer in [0, 2^53) (got ${2 ** 60})`);
    expect(bad({ entries: [{ term: 1, index: 1, type: 7, data: Buffer.alloc(0) }] })).toThrow('messages[2].entries[0].type: unknown entry type 7');
    expect(bad({ snapshot: { metadata: null, data: Buffer.alloc(0) } })).toThrow('messages[2].snapshot.metadata: missing');
    try {
      bad({ type: 3 })();
    } catch (err) {
      expect(err).toBeInstanceOf(WireError);
      expect((err as WireError).toStatus().code).toBe(3); // INVALID_ARGUMENT
    }
  });
});

describe('Backoff', () => {
  it('doubles from initial to max with jitter in [d/2, d), and resets', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 2000, random: () => 0.5 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([37.5, 75, 150, 300, 600, 1200, 1500, 1500]);
    const low = new Backoff({ initialMs: 50, maxMs: 2000, random: () => 0 });
    expect(low.next()).toBe(25);
    b.reset();
    expect(b.next()).toBe(37.5);
  });
});
