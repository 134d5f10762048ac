// Joining and heartbeats, against fake masters.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { JoinRejectedError, kubeArch } from '../src/index.js';
import { ADDRESS, cleanup, harness, MASTERS } from './agent-harness.js';

afterEach(cleanup);

describe('agent join', () => {
  it('registers the Node, saves the credential (0600) and reuses it after a restart', async () => {
    const h = await harness();
    const agent = await h.start({ labels: { zone: 'shelf-1' }, cpu: '2', memory: '1Gi', maxPods: 20 });
    expect(h.joinNodes.joins).toHaveLength(1);
    const first = h.joinNodes.joins[0];
    expect(first.token).toBe('abcdef.0123456789abcdef');
    // The agent's own credential, saved before it was ever sent (a lost answer cannot lock it out).
    expect(first.credential).toMatch(/^[0-9a-f]{48}$/);
    const node = first.node;
    expect(node.metadata.name).toBe('node1');
    expect(node.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'node1',
      'kubernetes.io/os': process.platform,
      'kubernetes.io/arch': kubeArch(),
      zone: 'shelf-1',
    });
    expect(node.status?.capacity).toEqual({ cpu: '2', memory: '1Gi', pods: '20' });
    expect(node.status?.allocatable).toEqual({ cpu: '2', memory: '1Gi', pods: '20' });
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: ADDRESS },
      { type: 'Hostname', address: 'node1' },
    ]);
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toBe(`process://node-${process.version}`);
    expect(node.status?.nodeInfo?.kubeletVersion).toMatch(/^v\d+\.\d+\.\d+/);
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(agent.kubeletPort);
    expect(agent.kubeletPort).toBeGreaterThan(0);

    const credFile = join(h.options.dataDir, 'node-credential');
    const saved = (await readFile(credFile, 'utf8')).trim();
    expect(saved).toBe(h.registry.get('node1'));
    expect(saved).toBe(first.credential);
    expect((await stat(credFile)).mode & 0o777).toBe(0o600);

    await agent.stop();
    const again = await h.start();
    expect(h.joinNodes.joins).toHaveLength(2);
    expect(h.joinNodes.joins[1].credential).toBe(saved);
    expect(again.credential).toBe(saved);
  });

  it('fails with the server message when the join is rejected, and changes nothing', async () => {
    const h = await harness();
    const err = await h.start({ joinToken: 'zzzzzz.zzzzzzzzzzzzzzzz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinRejectedError);
    expect((err as Error).message).toMatch(/join token is not valid/);
    expect(h.runtime.closed).toBe(true);
    await expect(stat(join(h.options.dataDir, 'node-credential'))).rejects.toThrow(/ENOENT/);
  });

  it('rejects bad options naming the option', async () => {
    const h = await harness();
    await expect(h.start({ address: '10.0.0' })).rejects.toThrow(/^address: must be an IPv4 address/);
    await expect(h.start({ name: 'Node_1' })).rejects.toThrow(/^name: /);
    await expect(h.start({ masters: ['nohost'] })).rejects.toThrow(/^masters: must be host:port/);
    await expect(h.start({ memory: '4 gigs' })).rejects.toThrow(/^memory: /);
    expect(h.joinNodes.joins).toHaveLength(0);
  });

  it('retries the join while the masters are unreachable', async () => {
    const h = await harness();
    h.joinNodes.reachable = false;
    const starting = h.start();
    await waitFor('three join attempts', () => h.joinNodes.joins.length >= 3);
    h.joinNodes.reachable = true;
    const agent = await starting;
    expect(agent.credential).toBe(h.registry.get('node1'));
  });
});

describe('agent heartbeats', () => {
  it('heartbeats to every master with the credential', async () => {
    const h = await harness();
    const agent = await h.start();
    await waitFor('2 heartbeats to each master', () => h.masterNodes.every((n) => n.heartbeats.length >= 2));
    for (const n of h.masterNodes) expect(n.heartbeats.every((b) => b.nodeName === 'node1' && b.credential === agent.credential)).toBe(true);
    expect(h.masterNodes.map((n) => n.master)).toEqual(MASTERS);
  });

  it('keeps heartbeating to the others when one master is down', async () => {
    const h = await harness();
    const agent = await h.start();
    h.masterNodes[1].reachable = false;
    const before = h.masterNodes.map((n) => n.heartbeats.length);
    await waitFor('more heartbeats to every master', () => h.masterNodes.every((n, i) => n.heartbeats.length >= before[i] + 3));
    expect(agent.metrics.heartbeatFailures.get(MASTERS[1])).toBeGreaterThanOrEqual(3);
    expect(agent.metrics.heartbeatFailures.get(MASTERS[0])).toBe(0);
  });

  it('rejoins when a master says the node is unknown', async () => {
    const h = await harness();
    await h.start();
    expect(h.joinNodes.joins).toHaveLength(1);
    h.registry.delete('node1'); // an admin deleted the node
    await waitFor('a rejoin', () => h.joinNodes.joins.length >= 2 && h.registry.has('node1'));
    const rejoin = h.joinNodes.joins[1];
    expect(rejoin.credential).toBeDefined();
    // Heartbeats succeed again with the (possibly new) credential, which is saved.
    const n = h.masterNodes[0];
    const mark = n.heartbeats.length;
    await waitFor('a heartbeat after the rejoin', () => n.heartbeats.length > mark + 1);
    const saved = (await readFile(join(h.options.dataDir, 'node-credential'), 'utf8')).trim();
    expect(saved).toBe(h.registry.get('node1'));
  });
});
