import { describe, expect, it } from 'vitest';
import { Cluster, bytes } from './harness.js';

describe('smoke', () => {
  it('elects a leader and replicates proposals to all', () => {
    const c = new Cluster(['a', 'b', 'c']);
    const leader = c.electLeader();
    for (let i = 0; i < 100; i++) leader.raft.propose(bytes(`v${i}`));
    c.stabilize();
    c.tick(undefined, 3);
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toHaveLength(100);
  });
});
