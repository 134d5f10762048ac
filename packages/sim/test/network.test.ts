import { describe, expect, it } from 'vitest';
import { MessageType, type Message } from '@bramble/raft';
import { Network, copyMessage, type NetworkOptions } from '../src/network.js';
import { Prng } from '../src/prng.js';

const calm: NetworkOptions = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 10, longDelayRate: 0, longDelayMax: 0 };

function msg(from: string, to: string, extra: Partial<Message> = {}): Message {
  return {
    type: MessageType.App,
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...extra,
  };
}

function drain(net: Network, until = 1_000_000): Message[] {
  const out: Message[] = [];
  for (let env = net.popDue(until); env !== undefined; env = net.popDue(until)) out.push(env.msg);
  return out;
}

describe('Network', () => {
  it('delivers every message once, within [minDelay, maxDelay], in delivery-time order', () => {
    const net = new Network(new Prng(1), calm);
    for (let i = 0; i < 200; i++) net.send(msg('m1', 'm2', { index: i }), 100);
    let last = -Infinity;
    const seen = new Set<number>();
    for (let env = net.popDue(1e9); env !== undefined; env = net.popDue(1e9)) {
      expect(env.at).toBeGreaterThanOrEqual(101);
      expect(env.at).toBeLessThanOrEqual(110);
      expect(env.at).toBeGreaterThanOrEqual(last);
      last = env.at;
      seen.add(env.msg.index);
    }
    expect(seen.size).toBe(200);
    expect(net.stats).toMatchObject({ sent: 200, delivered: 200, dropped: 0, duplicated: 0, blocked: 0 });
  });

  it('reorders: independent delays let a later message overtake an earlier one', () => {
    const net = new Network(new Prng(7), calm);
    for (let i = 0; i < 50; i++) net.send(msg('m1', 'm2', { index: i }), 0);
    const order = drain(net).map((m) => m.index);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
  });

  it('holds nothing back before its delivery time', () => {
    const net = new Network(new Prng(3), { ...calm, minDelay: 5, maxDelay: 5 });
    net.send(msg('m1', 'm2'), 10);
    expect(net.popDue(14)).toBeUndefined();
    expect(net.nextDeliveryTime()).toBe(15);
    expect(net.popDue(15)?.msg.to).toBe('m2');
  });

  it('drops and duplicates at the configured rates', () => {
    const lossy = new Network(new Prng(5), { ...calm, dropRate: 1 });
    const lost: Message[] = [];
    lossy.onLost = (m, reason) => {
      expect(reason).toBe('dropped');
      lost.push(m);
    };
    for (let i = 0; i < 20; i++) lossy.send(msg('m1', 'm2'), 0);
    expect(drain(lossy)).toHaveLength(0);
    expect(lost).toHaveLength(20);

    const doubled = new Network(new Prng(5), { ...calm, duplicateRate: 1 });
    for (let i = 0; i < 20; i++) doubled.send(msg('m1', 'm2', { index: i }), 0);
    expect(drain(doubled)).toHaveLength(40);
    expect(doubled.stats.duplicated).toBe(20);

    const some = new Network(new Prng(9), { ...calm, dropRate: 0.3 });
    for (let i = 0; i < 2000; i++) some.send(msg('m1', 'm2'), 0);
    const delivered = drain(some).length;
    expect(delivered).toBeGreaterThan(1200);
    expect(delivered).toBeLessThan(1600);
  });

  it('never duplicates the message types it is told not to', () => {
    const net = new Network(new Prng(5), { ...calm, duplicateRate: 1, neverDuplicate: new Set([MessageType.Prop]) });
    for (let i = 0; i < 20; i++) net.send(msg('m1', 'm2', { type: MessageType.Prop }), 0);
    expect(drain(net)).toHaveLength(20);
  });

  it('long delays deliver well after the ordinary window', () => {
    const net = new Network(new Prng(11), { ...calm, longDelayRate: 1, longDelayMax: 300 });
    for (let i = 0; i < 50; i++) net.send(msg('m1', 'm2'), 0);
    let env;
    while ((env = net.popDue(1e9)) !== undefined) {
      expect(env.at).toBeGreaterThan(10);
      expect(env.at).toBeLessThanOrEqual(300);
    }
  });

  it('symmetric partitions block both directions until healed; unlisted nodes join the first group', () => {
    const net = new Network(new Prng(1), calm);
    net.partition([['m1'], ['m2', 'm3']]);
    expect(net.linkUp('m1', 'm2')).toBe(false);
    expect(net.linkUp('m2', 'm1')).toBe(false);
    expect(net.linkUp('m2', 'm3')).toBe(true);
    expect(net.linkUp('m4', 'm1')).toBe(true);
    expect(net.linkUp('m4', 'm2')).toBe(false);
    const blocked: string[] = [];
    net.onLost = (m, reason) => blocked.push(`${m.from}->${m.to}:${reason}`);
    net.send(msg('m1', 'm2'), 0);
    net.send(msg('m3', 'm1'), 0);
    net.send(msg('m2', 'm3'), 0);
    expect(drain(net).map((m) => `${m.from}->${m.to}`)).toEqual(['m2->m3']);
    expect(blocked).toEqual(['m1->m2:blocked', 'm3->m1:blocked']);
    net.healPartition();
    net.send(msg('m1', 'm2'), 0);
    expect(drain(net)).toHaveLength(1);
  });

  it('a partition that starts while a message is in flight blocks it at delivery', () => {
    const net = new Network(new Prng(1), calm);
    net.send(msg('m1', 'm2'), 0);
    net.partition([['m1'], ['m2']]);
    expect(drain(net)).toHaveLength(0);
    expect(net.stats.blocked).toBe(1);
  });

  it('one-way cuts block a single direction', () => {
    const net = new Network(new Prng(1), calm);
    net.cut('m1', 'm2');
    net.send(msg('m1', 'm2'), 0);
    net.send(msg('m2', 'm1'), 0);
    expect(drain(net).map((m) => `${m.from}->${m.to}`)).toEqual(['m2->m1']);
    net.restore('m1', 'm2');
    net.send(msg('m1', 'm2'), 0);
    expect(drain(net)).toHaveLength(1);
    net.cut('m3', 'm1');
    net.heal();
    expect(net.cutCount()).toBe(0);
  });

  it('copies messages deeply on send, so the sender can never mutate what is delivered', () => {
    const net = new Network(new Prng(1), calm);
    const data = new Uint8Array([1, 2, 3]);
    const m = msg('m1', 'm2', {
      entries: [{ term: 1, index: 1, type: 0, data }],
      context: new Uint8Array([9]),
      snapshot: { meta: { index: 5, term: 1, confState: { voters: ['m1'], learners: [] } }, data: new Uint8Array([7]) },
    });
    net.send(m, 0);
    data[0] = 42;
    m.entries.push({ term: 9, index: 9, type: 0, data: new Uint8Array() });
    m.context![0] = 0;
    m.snapshot!.meta.confState.voters.push('m9');
    m.snapshot!.data[0] = 0;
    const [got] = drain(net);
    expect(got.entries).toHaveLength(1);
    expect([...got.entries[0].data]).toEqual([1, 2, 3]);
    expect([...got.context!]).toEqual([9]);
    expect(got.snapshot!.meta.confState.voters).toEqual(['m1']);
    expect([...got.snapshot!.data]).toEqual([7]);
    const copy = copyMessage(got);
    expect(copy).toEqual(got);
    expect(copy.entries[0].data).not.toBe(got.entries[0].data);
  });

  it('is deterministic for a given PRNG seed', () => {
    const run = (seed: number): string => {
      const net = new Network(new Prng(seed), { ...calm, dropRate: 0.2, duplicateRate: 0.2, longDelayRate: 0.1, longDelayMax: 100 });
      for (let i = 0; i < 100; i++) net.send(msg('m1', 'm2', { index: i }), i);
      const out: string[] = [];
      for (let env = net.popDue(1e9); env !== undefined; env = net.popDue(1e9)) out.push(`${env.at}:${env.msg.index}`);
      return out.join(',');
    };
    expect(run(4)).toBe(run(4));
    expect(run(4)).not.toBe(run(5));
  });
});
