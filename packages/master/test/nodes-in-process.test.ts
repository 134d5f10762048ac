// Join tokens, joins and heartbeats through gRPC on three in-process masters.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isApiError } from '@bramble/api';
import { isBrambleError } from '@bramble/client';
import { waitFor } from '@bramble/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { agentNode, TestCluster } from './nodes-helpers.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('Nodes and Tokens services', () => {
  it('the first leader generates a join token into <data-dir>/join-token; tokens are created, listed, deleted', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    const path = join(cluster.dataDir, leader.name, 'join-token');
    const token = (await waitFor('the generated join token file', () => readFile(path, 'utf8'))).trim();
    expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const client = cluster.client();
    const bootstrap = await client.tokens.list();
    expect(bootstrap).toEqual([expect.objectContaining({ id: token.slice(0, 6), description: 'bootstrap', expires: '' })]);
    const made = await client.tokens.create({ ttlSeconds: 600, description: 'node1' });
    expect(made.info.description).toBe('node1');
    expect((await client.tokens.list()).map((t) => t.id).sort()).toEqual([token.slice(0, 6), made.info.id].sort());
    await client.tokens.delete(made.info.id);
    expect((await client.tokens.list()).map((t) => t.id)).toEqual([token.slice(0, 6)]);

    const malformed = await rejection(client.tokens.delete('NOPE'));
    expect(isApiError(malformed, 'BadRequest')).toBe(true);
    expect(malformed.message).toBe('token id "NOPE": must be 6 characters of [a-z0-9]');
    const missing = await rejection(client.tokens.delete('zzzzzz'));
    expect(isApiError(missing, 'NotFound')).toBe(true);
  });

  it('join: good token, wrong secret, unknown id, expired, malformed; credential reuse vs impostor', async () => {
    const joinToken = 'abcdef.0123456789abcdef';
    cluster = await TestCluster.start(3, { joinToken });
    const client = cluster.client();
    await waitFor('the --join-token stored', async () => (await client.tokens.list()).some((t) => t.id === 'abcdef'));

    const first = await client.nodes.join(joinToken, agentNode('node1'));
    expect(first.credential).toMatch(/^[0-9a-f]{48}$/);
    expect(first.node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(first.node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);

    const unauthenticated = async (p: Promise<unknown>, message: string): Promise<void> => {
      const err = await rejection(p);
      expect(isBrambleError(err) && err.code).toBe('UNAUTHENTICATED');
      expect((err as { details: string }).details).toBe(message);
    };
    await unauthenticated(client.nodes.join('abcdef.ffffffffffffffff', agentNode('node2')), 'join token "abcdef": wrong secret');
    await unauthenticated(client.nodes.join('qqqqqq.0123456789abcdef', agentNode('node2')), 'join token "qqqqqq": unknown token id');
    const shortLived = await client.tokens.create({ ttlSeconds: 1 });
    await waitFor('the short token to expire', () => Date.now() > Date.parse(shortLived.info.expires) + 50, 5000, 50);
    await unauthenticated(client.nodes.join(shortLived.token, agentNode('node2')), `join token "${shortLived.info.id}": expired at ${shortLived.info.expires}`);
    const malformed = await rejection(client.nodes.join('not-a-token', agentNode('node2')));
    expect(isApiError(malformed, 'BadRequest')).toBe(true);
    const invalid = await rejection(client.nodes.join(joinToken, { ...agentNode('node2'), status: { daemonEndpoints: { kubeletEndpoint: { Port: 0 } } } }));
    expect(isApiError(invalid, 'Invalid')).toBe(true);
    expect((invalid as { fieldErrors: Array<{ field: string }> }).fieldErrors[0].field).toBe('status.daemonEndpoints.kubeletEndpoint.Port');
    const nodes = await cluster.leader().then((m) => m.resources.list('Node'));
    expect(nodes.map((n) => n.metadata.name)).toEqual(['node1']);

    // The same agent rejoins with its credential; another agent under the same name cannot.
    const again = await client.nodes.join(joinToken, agentNode('node1', 10251), first.credential);
    expect(again.credential).toBe(first.credential);
    expect(again.node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10251);
    await unauthenticated(
      client.nodes.join(joinToken, agentNode('node1')),
      'node "node1" is already registered by another agent; its data dir holds the node credential',
    );
    await unauthenticated(client.nodes.join(joinToken, agentNode('node1'), 'f'.repeat(48)), 'node "node1" is already registered by another agent; its data dir holds the node credential');
  });

  it('heartbeats go to every master, are kept in memory only (50 leave the revision unchanged) and say who leads', async () => {
    const joinToken = 'abcdef.0123456789abcdef';
    cluster = await TestCluster.start(3, { joinToken });
    const client = cluster.client();
    await waitFor('the --join-token stored', async () => (await client.tokens.list()).some((t) => t.id === 'abcdef'));
    const { credential } = await client.nodes.join(joinToken, agentNode('node1'));
    const perMaster = Object.entries(cluster.peers).map(([name, endpoint]) => ({ name, c: cluster!.client(endpoint) }));
    // Every master has applied the join before we count.
    for (const { c } of perMaster) await c.nodes.heartbeat('node1', credential);
    const before = (await client.status()).revision;
    const leaders: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { name, c } = perMaster[i % perMaster.length];
      if ((await c.nodes.heartbeat('node1', credential)).leader) leaders.push(name);
    }
    const leader = await cluster.leader();
    expect(new Set(leaders)).toEqual(new Set([leader.name]));
    for (const m of cluster.masters.values()) expect(m.nodes.heartbeats.lastHeard('node1')).toBeDefined();
    for (const endpoint of Object.values(cluster.peers)) expect((await client.status(endpoint)).revision).toBe(before);

    const wrong = await rejection(perMaster[0].c.nodes.heartbeat('node1', 'nope'));
    expect(isBrambleError(wrong) && wrong.code).toBe('UNAUTHENTICATED');
    const unknown = await rejection(perMaster[1].c.nodes.heartbeat('ghost', credential));
    expect(isApiError(unknown, 'NotFound')).toBe(true);
  });
});
