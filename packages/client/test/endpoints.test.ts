// EndpointPool.watchEndpoint: where a client's spread watches go.
import { describe, expect, it } from 'vitest';
import { EndpointPool } from '../src/endpoints.js';

const endpoints = ['127.0.0.1:1001', '127.0.0.1:1002', '127.0.0.1:1003'];
const members = endpoints.map((address, i) => ({ name: `m${i + 1}`, address, httpAddress: '', isLearner: false }));

function pool(random: number, now = () => 0): EndpointPool {
  return new EndpointPool({ endpoints, channelOptions: {}, random: () => random, now });
}

describe('EndpointPool.watchEndpoint', () => {
  it('spreads clients over every member while the leader is unknown, one endpoint per client', () => {
    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const p = pool(i / 30);
      expect(p.watchEndpoint()).toBe(p.watchEndpoint());
      picks.add(p.watchEndpoint());
    }
    expect([...picks].sort()).toEqual(endpoints);
  });

  it('skips the leader once it is known, and endpoints that failed recently', () => {
    let nowMs = 0;
    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const p = pool(i / 30, () => nowMs);
      p.learnMembers(members, 'm1');
      picks.add(p.watchEndpoint());
    }
    expect([...picks].sort()).toEqual([endpoints[1], endpoints[2]]);

    const p = pool(0.99, () => nowMs);
    p.learnMembers(members, 'm1');
    const first = p.watchEndpoint();
    p.reportFailure(first);
    const second = p.watchEndpoint();
    expect(second).not.toBe(first);
    expect(second).not.toBe(endpoints[0]);
    p.reportFailure(second);
    expect(p.watchEndpoint()).toBe(endpoints[0]); // only the leader is left healthy
    nowMs += 60_000; // the failures are forgotten after the cool-down
    expect([endpoints[1], endpoints[2]]).toContain(p.watchEndpoint());
  });
});

describe('EndpointPool.order', () => {
  it('starts at the leader by default, and at the client\'s follower with callsToFollower', () => {
    const byDefault = pool(0.5);
    byDefault.learnMembers(members, 'm2');
    expect(byDefault.order()).toEqual([endpoints[1], endpoints[2], endpoints[0]]);

    const spread = new EndpointPool({ endpoints, channelOptions: {}, random: () => 0.99, callsToFollower: true });
    spread.learnMembers(members, 'm2');
    const follower = spread.watchEndpoint();
    expect(follower).not.toBe(endpoints[1]);
    const order = spread.order();
    expect(order[0]).toBe(follower);
    expect([...order].sort()).toEqual(endpoints); // every endpoint once: failover reaches the leader too
    spread.reportFailure(follower);
    expect(spread.order()[0]).not.toBe(follower);
  });
});
