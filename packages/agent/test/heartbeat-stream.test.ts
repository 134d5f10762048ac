// The agent's Heartbeater against scripted Nodes servers over real gRPC: one stream per master,
// re-opened after a break or a restart, unary calls to a master without the stream, and the
// errors of the unary call (NOT_FOUND -> rejoin, UNAUTHENTICATED -> failing) learned at once.
import * as grpc from '@grpc/grpc-js';
import { freePort, waitFor } from '@bramble/testkit';
import { serviceDefinition } from '@bramble/transport';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Heartbeater } from '../src/heartbeat.js';
import { connectMasters, type MasterApis } from '../src/masters.js';
import { AgentMetrics } from '../src/metrics.js';

type Behaviour = 'ok' | 'stall' | 'unauthenticated' | 'not-found' | 'unimplemented';
type Call = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

const INTERVAL_MS = 100;

/** A master's Nodes service, scripted: counts heartbeats per stream and per unary call. */
class FakeMaster {
  behaviour: Behaviour = 'ok';
  streamBeats = 0;
  unaryBeats = 0;
  streamsOpened = 0;
  readonly open = new Set<Call>();
  private server: grpc.Server | undefined;

  private constructor(
    readonly port: number,
    /** false: an older master whose Nodes service has no HeartbeatStream (grpc answers UNIMPLEMENTED). */
    private readonly withStream: boolean,
  ) {}

  static async start(withStream = true): Promise<FakeMaster> {
    const m = new FakeMaster(await freePort(), withStream);
    await m.listen();
    return m;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  private refusal(): Partial<grpc.StatusObject> | undefined {
    switch (this.behaviour) {
      case 'unauthenticated':
        return { code: grpc.status.UNAUTHENTICATED, details: 'node "n1": wrong node credential' };
      case 'not-found':
        return { code: grpc.status.NOT_FOUND, details: 'node "n1" is not registered: join first' };
      case 'unimplemented':
        return { code: grpc.status.UNIMPLEMENTED, details: 'unknown method' };
      default:
        return undefined;
    }
  }

  async listen(): Promise<void> {
    const server = new grpc.Server();
    const handlers: grpc.UntypedServiceImplementation = {
      Heartbeat: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.unaryBeats++;
        const refused = this.refusal();
        if (refused && this.behaviour !== 'unimplemented') cb(refused);
        else if (this.behaviour !== 'stall') cb(null, { leader: false });
      },
    };
    if (this.withStream) {
      handlers.HeartbeatStream = (call: Call) => {
        this.streamsOpened++;
        this.open.add(call);
        const forget = (): void => void this.open.delete(call);
        call.on('cancelled', forget);
        call.on('close', forget);
        call.on('error', forget);
        call.on('end', () => call.end());
        call.on('data', () => {
          const refused = this.refusal();
          if (refused) {
            call.emit('error', refused);
            return;
          }
          this.streamBeats++;
          if (this.behaviour === 'ok') call.write({ leader: false });
        });
      };
    }
    server.addService(serviceDefinition('agent.proto', 'bramble.agent.Nodes'), handlers);
    await new Promise<void>((resolve, reject) => server.bindAsync(this.endpoint, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    this.server = server;
  }

  /** Ends every open stream as a dying connection would (UNAVAILABLE). */
  breakStreams(): void {
    for (const call of [...this.open]) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'connection reset' });
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

let masters: FakeMaster[] = [];
let apis: MasterApis | undefined;
let heartbeater: Heartbeater | undefined;
afterEach(() => {
  heartbeater?.stop();
  apis?.close();
  for (const m of masters) m.stop();
  masters = [];
  apis = heartbeater = undefined;
});

async function startAgent(
  fakes: FakeMaster[],
  extra: { streamRetryMs?: number } = {},
): Promise<{ hb: Heartbeater; metrics: AgentMetrics; unknown: string[] }> {
  masters = fakes;
  const logger = pino({ level: 'silent' });
  apis = connectMasters(
    fakes.map((m) => m.endpoint),
    INTERVAL_MS,
    logger,
  );
  const metrics = new AgentMetrics();
  const unknown: string[] = [];
  const hb = new Heartbeater({
    nodeName: 'n1',
    intervalMs: INTERVAL_MS,
    targets: apis.heartbeatTargets,
    credential: () => 'secret',
    onNodeUnknown: (master) => unknown.push(master),
    logger,
    metrics,
    ...extra,
  });
  heartbeater = hb;
  hb.start();
  return { hb, metrics, unknown };
}

describe('Heartbeater over HeartbeatStream', () => {
  it('sends every master one message per interval on a single stream, no unary calls', async () => {
    const fakes = [await FakeMaster.start(), await FakeMaster.start(), await FakeMaster.start()];
    const { hb, metrics } = await startAgent(fakes);
    await waitFor('10 heartbeats on every master', () => fakes.every((m) => m.streamBeats >= 10), 10_000);
    for (const m of fakes) {
      expect(m.streamsOpened).toBe(1);
      expect(m.unaryBeats).toBe(0);
      expect(metrics.heartbeatFailures.get(m.endpoint)).toBe(0);
    }
    expect(Object.values(hb.modes())).toEqual(['stream', 'stream', 'stream']);
    expect(hb.failing()).toEqual([]);
    // One per interval, not more: ten more take at least nine intervals (less a margin for timer jitter).
    const before = fakes[0].streamBeats;
    const started = Date.now();
    await waitFor('ten more heartbeats', () => fakes[0].streamBeats >= before + 10, 10_000, 5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9 * INTERVAL_MS * 0.8);
  });

  it('re-opens a broken stream, and reaches a restarted master again within a couple of seconds', async () => {
    const [m] = [await FakeMaster.start()];
    const { hb } = await startAgent([m]);
    await waitFor('heartbeats on the first stream', () => m.streamBeats >= 3);
    m.breakStreams();
    await waitFor('a second stream with heartbeats', () => m.streamsOpened >= 2 && m.open.size === 1);
    const beats = m.streamBeats;
    await waitFor('heartbeats on the new stream', () => m.streamBeats >= beats + 3);

    m.stop();
    await waitFor('the agent to notice the master is down', () => hb.failing().length === 1, 5000);
    const opened = m.streamsOpened;
    const beatsBefore = m.streamBeats;
    await m.listen();
    const restartedAt = Date.now();
    await waitFor('a heartbeat to the restarted master', () => m.streamBeats > beatsBefore && m.streamsOpened > opened, 5000, 10);
    expect(Date.now() - restartedAt).toBeLessThan(2500);
    await waitFor('no master failing any more', () => hb.failing().length === 0);
    expect(m.unaryBeats).toBe(0);
  });

  it('a master that stops answering: the stream is cut after the response timeout and re-opened', async () => {
    const m = await FakeMaster.start();
    const { hb, metrics } = await startAgent([m]);
    await waitFor('heartbeats on the first stream', () => m.streamBeats >= 2);
    m.behaviour = 'stall';
    await waitFor('the stalled stream cut and another opened', () => m.streamsOpened >= 2, 5000);
    expect(hb.failing()).toEqual([m.endpoint]);
    expect(metrics.heartbeatFailures.get(m.endpoint)).toBeGreaterThanOrEqual(1);
    // Only one stream is ever open at a time.
    await waitFor('the cut stream gone on the server', () => m.open.size === 1);
    m.behaviour = 'ok';
    await waitFor('heartbeats answered again', () => hb.failing().length === 0, 5000);
  });

  it('a master without the stream (older version) gets unary heartbeats; the others keep their streams', async () => {
    const old = await FakeMaster.start(false);
    const current = await FakeMaster.start();
    const { hb, metrics } = await startAgent([old, current]);
    await waitFor('unary heartbeats to the old master', () => old.unaryBeats >= 5);
    await waitFor('stream heartbeats to the current one', () => current.streamBeats >= 5);
    expect(hb.modes()).toEqual({ [old.endpoint]: 'unary', [current.endpoint]: 'stream' });
    expect(hb.failing()).toEqual([]);
    // UNIMPLEMENTED is a fallback, not a failed heartbeat.
    expect(metrics.heartbeatFailures.get(old.endpoint)).toBe(0);
    expect(current.unaryBeats).toBe(0);
  });

  it('falls back on UNIMPLEMENTED and tries the stream again later (the master was upgraded)', async () => {
    const m = await FakeMaster.start();
    m.behaviour = 'unimplemented';
    const { hb } = await startAgent([m], { streamRetryMs: 300 });
    await waitFor('unary mode', () => hb.modes()[m.endpoint] === 'unary' && m.unaryBeats >= 1);
    m.behaviour = 'ok';
    await waitFor('back on a stream', () => hb.modes()[m.endpoint] === 'stream' && m.streamBeats >= 3, 5000);
    const unary = m.unaryBeats;
    await waitFor('more stream heartbeats', () => m.streamBeats >= 6);
    expect(m.unaryBeats).toBe(unary);
  });

  it('NOT_FOUND ends the stream and asks for a rejoin; UNAUTHENTICATED marks the master failing until it is accepted', async () => {
    const m = await FakeMaster.start();
    m.behaviour = 'not-found';
    const { hb, unknown } = await startAgent([m]);
    await waitFor('the node reported unknown', () => unknown.length >= 1);
    expect(unknown[0]).toBe(m.endpoint);
    expect(m.unaryBeats).toBe(0);

    m.behaviour = 'unauthenticated';
    const opened = m.streamsOpened;
    await waitFor('streams re-opened and refused', () => m.streamsOpened >= opened + 2, 5000);
    expect(hb.failing()).toEqual([m.endpoint]);
    m.behaviour = 'ok';
    await waitFor('accepted again', () => hb.failing().length === 0 && m.streamBeats >= 2, 5000);
  });

  it('stop() closes the streams and sends nothing more', async () => {
    const [m, witness] = [await FakeMaster.start(), await FakeMaster.start()];
    await startAgent([m, witness]);
    await waitFor('heartbeats', () => m.streamBeats >= 2 && witness.streamBeats >= 2);
    // A second heartbeater to the witness only: its beats show time passing after the first one stopped.
    const clock = new Heartbeater({
      nodeName: 'n1',
      intervalMs: INTERVAL_MS,
      targets: [apis!.heartbeatTargets[1]],
      credential: () => 'secret',
      onNodeUnknown: () => undefined,
      logger: pino({ level: 'silent' }),
      metrics: new AgentMetrics(),
    });
    try {
      heartbeater!.stop();
      await waitFor('the stream closed on the server', () => m.open.size === 0);
      const beats = m.streamBeats;
      clock.start();
      const ticks = witness.streamBeats;
      await waitFor('five beats of the other heartbeater', () => witness.streamBeats >= ticks + 5, 5000, 10);
      expect(m.streamBeats).toBe(beats);
      expect(m.unaryBeats).toBe(0);
    } finally {
      clock.stop();
    }
  });
});
