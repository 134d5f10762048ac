// Nodes.HeartbeatStream: on three in-process masters (recorded like unary heartbeats, the same
// errors end the stream), and HeartbeatStreams alone on a bare gRPC server with a scripted registrar.
import * as grpc from '@grpc/grpc-js';
import { isApiError } from '@bramble/api';
import { BrambleClient, isBrambleError, type HeartbeatStreamHandle } from '@bramble/client';
import { freePort, waitFor } from '@bramble/testkit';
import { serviceDefinition } from '@bramble/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { HeartbeatStreams, MAX_QUEUED_HEARTBEATS } from '../src/nodes/heartbeat-stream.js';
import { agentNode, TestCluster } from './nodes-helpers.js';

/** A stream with its answers and its end collected. */
function openStream(client: BrambleClient, node: string): { stream: HeartbeatStreamHandle; answers: boolean[]; ended: Promise<Error> } {
  const answers: boolean[] = [];
  let endWith!: (err: Error) => void;
  const ended = new Promise<Error>((resolve) => (endWith = resolve));
  const stream = client.nodes.openHeartbeatStream(node, { onResponse: (r) => answers.push(r.leader), onEnd: endWith });
  return { stream, answers, ended };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('HeartbeatStream on three masters', () => {
  let cluster: TestCluster | undefined;
  const opened: HeartbeatStreamHandle[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) s.close();
    await cluster?.stop();
    cluster = undefined;
  });

  async function joined(): Promise<{ credential: string; perMaster: Array<{ name: string; c: BrambleClient }> }> {
    const joinToken = 'abcdef.0123456789abcdef';
    cluster = await TestCluster.start(3, { joinToken });
    const client = cluster.client();
    await waitFor('the --join-token stored', async () => (await client.tokens.list()).some((t) => t.id === 'abcdef'));
    const { credential } = await client.nodes.join(joinToken, agentNode('node1'));
    const perMaster = Object.entries(cluster.peers).map(([name, endpoint]) => ({ name, c: cluster!.client(endpoint) }));
    // Every master has applied the join before streams start.
    for (const { c } of perMaster) await c.nodes.heartbeat('node1', credential);
    return { credential, perMaster };
  }

  it('records every message in each master\'s table, answers in order with who leads, writes nothing to the log', async () => {
    const { credential, perMaster } = await joined();
    const c = cluster!;
    const before = (await c.client().status()).revision;
    const leader = await c.leader();
    for (const { name, c: client } of perMaster) {
      const master = c.masters.get(name)!;
      const s = openStream(client, 'node1');
      opened.push(s.stream);
      let last = master.nodes.heartbeats.lastHeard('node1')!;
      for (let i = 1; i <= 5; i++) {
        // Wait for the table to move so each message is seen to be recorded on its own.
        await waitFor('the clock to move', () => Date.now() > last + 2, 1000, 1);
        s.stream.send(credential);
        await waitFor(`answer ${i} from ${name}`, () => s.answers.length === i);
        const heard = master.nodes.heartbeats.lastHeard('node1')!;
        expect(heard).toBeGreaterThan(last);
        last = heard;
      }
      expect(s.answers).toEqual(Array(5).fill(name === leader.name));
      expect(master.nodes.heartbeatStreams.size).toBe(1);
    }
    for (const endpoint of Object.values(c.peers)) expect((await c.client().status(endpoint)).revision).toBe(before);
  });

  it('a wrong credential or an unknown node ends the stream with the unary call\'s error', async () => {
    const { credential, perMaster } = await joined();
    const client = perMaster[0].c;

    const unaryWrong = await rejection(client.nodes.heartbeat('node1', 'nope'));
    const wrong = openStream(client, 'node1');
    opened.push(wrong.stream);
    wrong.stream.send(credential);
    wrong.stream.send('nope');
    const wrongErr = await wrong.ended;
    expect(wrong.answers).toHaveLength(1);
    expect(isBrambleError(wrongErr) && wrongErr.code).toBe('UNAUTHENTICATED');
    expect(isBrambleError(unaryWrong) && unaryWrong.code).toBe('UNAUTHENTICATED');
    expect((wrongErr as { details: string }).details).toBe('node "node1": wrong node credential');
    expect((wrongErr as { details: string }).details).toBe((unaryWrong as { details: string }).details);
    expect(() => wrong.stream.send(credential)).toThrow(/heartbeat stream of node "node1": CANCELLED: the heartbeat stream has ended/);

    const ghost = openStream(client, 'ghost');
    opened.push(ghost.stream);
    ghost.stream.send(credential);
    const ghostErr = await ghost.ended;
    expect(isApiError(ghostErr, 'NotFound')).toBe(true);
    expect(ghostErr.message).toBe((await rejection(client.nodes.heartbeat('ghost', credential))).message);

    // The Node deleted by an admin: the next message on a live stream ends it with NotFound (the agent rejoins).
    const live = openStream(client, 'node1');
    opened.push(live.stream);
    live.stream.send(credential);
    await waitFor('the first answer', () => live.answers.length === 1);
    const leader = await cluster!.leader();
    await leader.resources.delete('Node', undefined, 'node1');
    await waitFor('the deletion applied on the first master', () => cluster!.masters.get(perMaster[0].name)!.resources.get('Node', undefined, 'node1').then((n) => n === undefined));
    live.stream.send(credential);
    const liveErr = await live.ended;
    expect(isApiError(liveErr, 'NotFound')).toBe(true);
    expect(liveErr.message).toBe('nodes "node1" not found (deleted?): join again');
    await waitFor('closed streams forgotten', () => cluster!.masters.get(perMaster[0].name)!.nodes.heartbeatStreams.size === 0);
  });

  it('a stopping master ends its streams with UNAVAILABLE before its server goes', async () => {
    const { credential, perMaster } = await joined();
    const { name, c: client } = perMaster[2];
    const s = openStream(client, 'node1');
    opened.push(s.stream);
    s.stream.send(credential);
    await waitFor('the first answer', () => s.answers.length === 1);
    const master = cluster!.masters.get(name)!;
    const stopped = master.stop();
    const err = await s.ended;
    expect(isBrambleError(err) && err.code).toBe('UNAVAILABLE');
    expect((err as { details: string }).details).toBe('the master is shutting down; heartbeat another master');
    await stopped;
    cluster!.masters.delete(name);
  });
});

describe('HeartbeatStreams on a bare server', () => {
  let server: grpc.Server | undefined;
  let client: BrambleClient | undefined;
  afterEach(() => {
    client?.close();
    server?.forceShutdown();
    client = server = undefined;
  });

  async function serve(heartbeat: (name: string, credential: string) => Promise<void>): Promise<{ streams: HeartbeatStreams; client: BrambleClient }> {
    const streams = new HeartbeatStreams({ registrar: { heartbeat }, isLeader: () => true });
    server = new grpc.Server();
    server.addService(serviceDefinition('agent.proto', 'bramble.agent.Nodes'), { HeartbeatStream: (call: grpc.ServerDuplexStream<never, never>) => streams.serve(call) });
    const port = await freePort();
    await new Promise<void>((resolve, reject) => server!.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    client = new BrambleClient({ endpoints: [`127.0.0.1:${port}`] });
    return { streams, client };
  }

  it('answers one message at a time, in order, even when the checks finish out of order', async () => {
    const seen: string[] = [];
    const { client } = await serve(async (_name, credential) => {
      // Later messages would finish first if they ran side by side.
      await new Promise((r) => setTimeout(r, credential === 'slow' ? 30 : 1));
      seen.push(credential);
    });
    const s = openStream(client, 'n1');
    for (const c of ['slow', 'a', 'slow', 'b']) s.stream.send(c);
    await waitFor('four answers', () => s.answers.length === 4);
    expect(seen).toEqual(['slow', 'a', 'slow', 'b']);
    s.stream.close();
  });

  it(`cuts off a client with more than ${MAX_QUEUED_HEARTBEATS} unanswered heartbeats (TooManyRequests)`, async () => {
    const { streams, client } = await serve(() => new Promise<void>(() => undefined)); // never answers
    const s = openStream(client, 'n1');
    for (let i = 0; i <= MAX_QUEUED_HEARTBEATS + 1; i++) s.stream.send('c');
    const err = await s.ended;
    expect(isApiError(err, 'TooManyRequests')).toBe(true);
    expect(err.message).toBe(`more than ${MAX_QUEUED_HEARTBEATS} heartbeats sent without waiting for the answers`);
    expect(s.answers).toEqual([]);
    await waitFor('the stream forgotten', () => streams.size === 0);
  });

  it('a client that cancels is forgotten; closeAll ends the rest and refuses new streams', async () => {
    const { streams, client } = await serve(async () => undefined);
    const a = openStream(client, 'n1');
    const b = openStream(client, 'n2');
    a.stream.send('c');
    b.stream.send('c');
    await waitFor('both answered', () => a.answers.length === 1 && b.answers.length === 1);
    expect(streams.size).toBe(2);
    a.stream.close();
    await waitFor('the cancelled stream forgotten', () => streams.size === 1);
    streams.closeAll('shutting down');
    const err = await b.ended;
    expect(isBrambleError(err) && err.code).toBe('UNAVAILABLE');
    expect((err as { details: string }).details).toBe('shutting down');
    const late = openStream(client, 'n3');
    late.stream.send('c');
    const lateErr = await late.ended;
    expect(isBrambleError(lateErr) && lateErr.code).toBe('UNAVAILABLE');
    expect(streams.size).toBe(0);
  });
});
