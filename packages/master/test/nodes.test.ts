// Join tokens, node credentials, joins and heartbeats against an in-memory store
// (KvStoreBackend + the real ResourceStore): no Raft, no sockets.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '@bramble/api';
import { isApiError } from '@bramble/api';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_DESCRIPTION,
  CREDENTIALS_PREFIX,
  ensureBootstrapToken,
  HeartbeatTable,
  NodeAuthError,
  NodeCredentials,
  NodeRegistrar,
  parseJoinToken,
  TOKENS_PREFIX,
  TokenRegistry,
} from '../src/nodes/index.js';
import { KvStoreBackend } from '../src/resources/backend.js';
import { ResourceStore } from '../src/resources/store.js';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);

function setup() {
  let wallMs = T0;
  let monoMs = 1_000;
  const backend = new KvStoreBackend();
  const store = new ResourceStore(backend, { now: () => wallMs });
  const tokens = new TokenRegistry(backend, { now: () => wallMs });
  const heartbeats = new HeartbeatTable(() => monoMs);
  const credentials = new NodeCredentials(backend, () => wallMs);
  const registrar = new NodeRegistrar({ tokens, credentials, heartbeats, client: store, backend, now: () => wallMs });
  return {
    backend,
    store,
    tokens,
    heartbeats,
    registrar,
    advanceWall: (ms: number) => (wallMs += ms),
    advanceMono: (ms: number) => (monoMs += ms),
    mono: () => monoMs,
  };
}

function agentNode(name: string, extra: Partial<NonNullable<Node['status']>> = {}, labels: Record<string, string> = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    status: {
      capacity: { cpu: '4', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '4Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '127.0.0.11' }],
      nodeInfo: { kubeletVersion: 'bramble-test', architecture: 'arm64' },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      ...extra,
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('join tokens', () => {
  it('creates <id>.<secret> tokens, stores only the hash, lists and deletes them', async () => {
    const { tokens, backend } = setup();
    const { token, info } = await tokens.create({ ttlSeconds: 3600, description: 'for node1' });
    expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    const { id, secret } = parseJoinToken(token);
    expect(info).toEqual({ id, description: 'for node1', created: new Date(T0).toISOString(), expires: new Date(T0 + 3600_000).toISOString() });
    const stored = backend.range(TOKENS_PREFIX + id).kvs[0].value;
    expect(stored).not.toContain(secret);
    expect(JSON.parse(stored)).toMatchObject({ id, description: 'for node1' });
    expect(await tokens.list()).toEqual([info]);
    await tokens.delete(id);
    expect(await tokens.list()).toEqual([]);
    const gone = await rejection(tokens.delete(id));
    expect(isApiError(gone, 'NotFound')).toBe(true);
    expect(gone.message).toBe(`join token "${id}" not found`);
  });

  it('rejects malformed tokens, ids, ttls and descriptions with BadRequest naming the field', async () => {
    const { tokens } = setup();
    for (const bad of ['', 'abc', 'abcdef.short', 'ABCDEF.0123456789abcdef', 'abcdef-0123456789abcdef']) {
      const err = await rejection(tokens.verify(bad));
      expect(isApiError(err, 'BadRequest')).toBe(true);
      expect(err.message).toMatch(/^token: /);
    }
    expect((await rejection(tokens.verify('abcdef.x'))).message).not.toContain('.x');
    expect((await rejection(tokens.delete('nope!'))).message).toBe('token id "nope!": must be 6 characters of [a-z0-9]');
    expect((await rejection(tokens.create({ ttlSeconds: -1 }))).message).toMatch(/^ttl_seconds: must be a non-negative integer \(got -1\)/);
    expect((await rejection(tokens.create({ description: 'x'.repeat(300) }))).message).toMatch(/^description: must be at most 256 characters/);
    expect(await tokens.list()).toEqual([]);
  });

  it('verify says which: unknown id, wrong secret, expired', async () => {
    const { tokens, advanceWall } = setup();
    const { token } = await tokens.create({ ttlSeconds: 60 });
    const { id } = parseJoinToken(token);
    expect((await tokens.verify(token)).id).toBe(id);
    const unknown = await rejection(tokens.verify('zzzzzz.0123456789abcdef'));
    expect(unknown).toBeInstanceOf(NodeAuthError);
    expect(unknown.message).toBe('join token "zzzzzz": unknown token id');
    expect((await rejection(tokens.verify(`${id}.0123456789abcdef`))).message).toBe(`join token "${id}": wrong secret`);
    advanceWall(61_000);
    expect((await rejection(tokens.verify(token))).message).toBe(`join token "${id}": expired at ${new Date(T0 + 60_000).toISOString()}`);
  });

  it('bootstrap: --join-token is stored once; without it the first leader generates one into <data-dir>/join-token (0600)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bramble-nodes-'));
    try {
      const logger = pino({ level: 'silent' });
      const a = setup();
      await ensureBootstrapToken({ tokens: a.tokens, joinToken: 'abcdef.0123456789abcdef', dataDir: dir, logger });
      await ensureBootstrapToken({ tokens: a.tokens, joinToken: 'abcdef.0123456789abcdef', dataDir: dir, logger });
      const list = await a.tokens.list();
      expect(list).toEqual([{ id: 'abcdef', description: BOOTSTRAP_DESCRIPTION, expires: '', created: new Date(T0).toISOString() }]);
      await expect(a.tokens.verify('abcdef.0123456789abcdef')).resolves.toBeDefined();
      await expect(stat(join(dir, 'join-token'))).rejects.toThrow();

      const b = setup();
      await ensureBootstrapToken({ tokens: b.tokens, joinToken: '', dataDir: dir, logger });
      const written = (await readFile(join(dir, 'join-token'), 'utf8')).trim();
      expect((await stat(join(dir, 'join-token'))).mode & 0o777).toBe(0o600);
      await expect(b.tokens.verify(written)).resolves.toBeDefined();
      // A later leader finds a token and generates nothing.
      await ensureBootstrapToken({ tokens: b.tokens, joinToken: '', dataDir: dir, logger });
      expect(await b.tokens.list()).toHaveLength(1);
      expect((await readFile(join(dir, 'join-token'), 'utf8')).trim()).toBe(written);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('join', () => {
  it('registers a new node: Node stored with the agent status and Ready=True, credential hash stored, heartbeat recorded', async () => {
    const { tokens, registrar, store, backend, heartbeats, mono } = setup();
    const { token } = await tokens.create();
    const out = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    expect(out.credential).toMatch(/^[0-9a-f]{48}$/);
    expect(out.node.metadata.name).toBe('node1');
    const stored = (await store.get('Node', undefined, 'node1'))!;
    expect(stored.status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(stored.status?.addresses).toEqual([{ type: 'InternalIP', address: '127.0.0.11' }]);
    expect(stored.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    const cred = backend.range(CREDENTIALS_PREFIX + 'node1').kvs[0].value;
    expect(cred).not.toContain(out.credential);
    expect(heartbeats.lastHeard('node1')).toBe(mono());
  });

  it('a rejected join changes nothing: unknown id, wrong secret, expired token, invalid Node', async () => {
    const { tokens, registrar, backend, advanceWall } = setup();
    const { token } = await tokens.create({ ttlSeconds: 10 });
    const { id } = parseJoinToken(token);
    const before = backend.revision;
    const cases: Array<[string, string, RegExp]> = [
      ['zzzzzz.0123456789abcdef', JSON.stringify(agentNode('node1')), /^join token "zzzzzz": unknown token id$/],
      [`${id}.0123456789abcdef`, JSON.stringify(agentNode('node1')), new RegExp(`^join token "${id}": wrong secret$`)],
    ];
    for (const [t, json, message] of cases) {
      const err = await rejection(registrar.join(t, json, ''));
      expect(err).toBeInstanceOf(NodeAuthError);
      expect(err.message).toMatch(message);
    }
    const invalid = await rejection(registrar.join(token, JSON.stringify(agentNode('node1', { daemonEndpoints: { kubeletEndpoint: { Port: 70000 } } })), ''));
    expect(isApiError(invalid, 'Invalid')).toBe(true);
    expect((invalid as { fieldErrors: Array<{ field: string }> }).fieldErrors.map((e) => e.field)).toEqual(['status.daemonEndpoints.kubeletEndpoint.Port']);
    const notJson = await rejection(registrar.join(token, '{', ''));
    expect(notJson.message).toMatch(/^node_json: not valid JSON/);
    advanceWall(11_000);
    const expired = await rejection(registrar.join(token, JSON.stringify(agentNode('node1')), ''));
    expect(expired.message).toBe(`join token "${id}": expired at ${new Date(T0 + 10_000).toISOString()}`);
    expect(backend.revision).toBe(before);
  });

  it('a rejoin needs the credential: the same agent gets in, an impostor does not', async () => {
    const { tokens, registrar, store, backend } = setup();
    const { token } = await tokens.create();
    const first = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    const again = await registrar.join(token, JSON.stringify(agentNode('node1', { capacity: { cpu: '8', memory: '8Gi', pods: '110' } })), first.credential);
    expect(again.credential).toBe(first.credential);
    expect((await store.get('Node', undefined, 'node1'))?.status?.capacity?.cpu).toBe('8');

    const before = backend.revision;
    for (const credential of ['', 'not-the-credential']) {
      const err = await rejection(registrar.join(token, JSON.stringify(agentNode('node1')), credential));
      expect(err).toBeInstanceOf(NodeAuthError);
      expect(err.message).toBe('node "node1" is already registered by another agent; its data dir holds the node credential');
    }
    expect(backend.revision).toBe(before);
  });

  it("registers the agent's own credential on a first join, so a join whose answer was lost can be retried", async () => {
    const { tokens, registrar } = setup();
    const { token } = await tokens.create();
    const mine = 'a'.repeat(48);
    const first = await registrar.join(token, JSON.stringify(agentNode('node1')), mine);
    expect(first.credential).toBe(mine);
    // The answer was lost: the agent retries with the same credential and gets in.
    const retried = await registrar.join(token, JSON.stringify(agentNode('node1')), mine);
    expect(retried.credential).toBe(mine);
    await registrar.heartbeat('node1', mine);
    // Another agent with its own credential is still an impostor.
    const err = await rejection(registrar.join(token, JSON.stringify(agentNode('node1')), 'b'.repeat(48)));
    expect(err).toBeInstanceOf(NodeAuthError);
  });

  it('a rejoin keeps what users set (unschedulable, taints, their labels) and marks a NotReady node Ready again', async () => {
    const { tokens, registrar, store, advanceWall } = setup();
    const { token } = await tokens.create();
    const first = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    const node = (await store.get('Node', undefined, 'node1'))!;
    await store.update({
      ...node,
      metadata: { ...node.metadata, labels: { ...node.metadata.labels, zone: 'attic' } },
      spec: { unschedulable: true, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] },
    });
    const cordoned = (await store.get('Node', undefined, 'node1'))!;
    await store.updateStatus({
      ...cordoned,
      status: { ...cordoned.status, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }] },
    });
    advanceWall(5000);
    await registrar.join(token, JSON.stringify(agentNode('node1', {}, { disk: 'ssd' })), first.credential);
    const after = (await store.get('Node', undefined, 'node1'))!;
    expect(after.spec).toEqual({ unschedulable: true, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
    expect(after.metadata.labels).toMatchObject({ zone: 'attic', disk: 'ssd', 'kubernetes.io/hostname': 'node1' });
    expect(after.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'KubeletReady',
      lastTransitionTime: new Date(T0 + 5000).toISOString(),
    });
  });
});

describe('heartbeat', () => {
  it('records the time in memory only: 50 heartbeats leave the store revision unchanged', async () => {
    const { tokens, registrar, backend, heartbeats, advanceMono, mono } = setup();
    const { token } = await tokens.create();
    const { credential } = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    const before = backend.revision;
    for (let i = 0; i < 50; i++) {
      advanceMono(1000);
      await registrar.heartbeat('node1', credential);
    }
    expect(heartbeats.lastHeard('node1')).toBe(mono());
    expect(backend.revision).toBe(before);
  });

  it('refuses a wrong credential (UNAUTHENTICATED) and says NotFound for an unknown or deleted node', async () => {
    const { tokens, registrar, store, heartbeats } = setup();
    const { token } = await tokens.create();
    const { credential } = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    heartbeats.forget('node1');
    const wrong = await rejection(registrar.heartbeat('node1', 'nope'));
    expect(wrong).toBeInstanceOf(NodeAuthError);
    expect(wrong.message).toBe('node "node1": wrong node credential');
    const unknown = await rejection(registrar.heartbeat('node9', credential));
    expect(isApiError(unknown, 'NotFound')).toBe(true);
    expect(unknown.message).toBe('node "node9" is not registered: join first');
    expect(heartbeats.lastHeard('node1')).toBeUndefined();
    await store.delete('Node', undefined, 'node1');
    const deleted = await rejection(registrar.heartbeat('node1', credential));
    expect(isApiError(deleted, 'NotFound')).toBe(true);
    // The agent rejoins with its credential and heartbeats again.
    await registrar.join(token, JSON.stringify(agentNode('node1')), credential);
    await registrar.heartbeat('node1', credential);
    expect(heartbeats.lastHeard('node1')).toBeDefined();
  });

  it('credentials of deleted nodes are swept after a minimum age; the name can then be joined afresh', async () => {
    const { tokens, registrar, store, backend, advanceWall } = setup();
    const credentials = new NodeCredentials(backend, () => T0 + 120_000);
    const { token } = await tokens.create();
    const { credential: old } = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    await registrar.join(token, JSON.stringify(agentNode('node2')), '');
    await store.delete('Node', undefined, 'node1');
    // Too young: nothing goes.
    expect(await new NodeCredentials(backend, () => T0 + 1000).sweepOrphans(new Set(['node2']), 60_000)).toBe(0);
    expect(await credentials.sweepOrphans(new Set(['node2']), 60_000)).toBe(1);
    expect(backend.range(CREDENTIALS_PREFIX + 'node1').kvs).toHaveLength(0);
    expect(backend.range(CREDENTIALS_PREFIX + 'node2').kvs).toHaveLength(1);
    // Another agent takes the free name; the old credential no longer works.
    advanceWall(1000);
    const fresh = await registrar.join(token, JSON.stringify(agentNode('node1')), '');
    expect(fresh.credential).not.toBe(old);
    expect(await rejection(registrar.heartbeat('node1', old))).toBeInstanceOf(NodeAuthError);
    await registrar.heartbeat('node1', fresh.credential);
  });
});
