#!/usr/bin/env node
// MsgApp throughput between two PeerTransports on loopback.
//
//   npx tsc -b packages/transport && node packages/transport/bench/throughput.mjs [--seconds 3] [--one-process] [--enlarge-windows] [--only <name part>]
//
// By default the receiver runs in a child process (as two masters would); with
// --one-process sender and receiver share one event loop (and one CPU core).
// The sender keeps at most `windowBytes` unacknowledged (sent, not yet counted by
// the receiver), like Raft's in-flight window, so the queue never overflows.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { EntryType, MessageType } from '@bramble/raft';
import { PeerTransport, enlargeServerReceiveWindows, peerServerOptions } from '../dist/index.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 3) || 3;
const oneProcess = args.includes('--one-process');
const tuned = args.includes('--enlarge-windows');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

const scenarios = [
  { name: 'heartbeat (no entries)', entries: 0, entryBytes: 0 },
  { name: 'MsgApp 1 x 100 B', entries: 1, entryBytes: 100 },
  { name: 'MsgApp 16 x 1 KiB', entries: 16, entryBytes: 1024 },
  { name: 'MsgApp 64 x 4 KiB', entries: 64, entryBytes: 4096 },
  { name: 'MsgApp 16 x 64 KiB', entries: 16, entryBytes: 65536 },
];

async function serve() {
  const server = new grpc.Server(peerServerOptions());
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  if (tuned && !enlargeServerReceiveWindows(server)) throw new Error('enlargeServerReceiveWindows: not supported by this grpc-js');
  return { server, port };
}

/** The receiving member: counts messages and entry bytes. */
async function startReceiver(report) {
  const { server, port } = await serve();
  let messages = 0;
  let bytes = 0;
  const transport = new PeerTransport({
    self: 'm2',
    clusterId: 'bench',
    peers: {},
    handlers: {
      onMessage(m) {
        messages++;
        for (const e of m.entries) bytes += e.data.length;
        if ((messages & 63) === 0) report(messages, bytes);
      },
    },
  });
  transport.addToServer(server);
  // Report the tail too.
  const timer = setInterval(() => report(messages, bytes), 5);
  return {
    port,
    async stop() {
      clearInterval(timer);
      await transport.close();
      server.forceShutdown();
    },
  };
}

function makeMessage(sc, index) {
  const entries = [];
  for (let i = 0; i < sc.entries; i++) entries.push({ term: 1, index: index + i + 1, type: EntryType.Normal, data: sc.payload });
  return {
    type: sc.entries === 0 ? MessageType.Heartbeat : MessageType.App,
    from: 'm1',
    to: 'm2',
    term: 1,
    logTerm: 1,
    index,
    entries,
    commit: index,
    reject: false,
    rejectHint: 0,
  };
}

async function runScenario(sc, port, received) {
  sc.payload = Buffer.alloc(sc.entryBytes, 7);
  const sender = new PeerTransport({ self: 'm1', clusterId: 'bench', peers: { m2: `127.0.0.1:${port}` }, handlers: { onMessage() {} } });
  const msgBytes = Math.max(64, sc.entries * (sc.entryBytes + 32));
  // Stay well inside the queue's bounds (10,000 messages, 32 MiB): this measures the wire, not the drop policy.
  const windowMessages = Math.max(4, Math.min(5000, Math.floor((16 * 1024 * 1024) / msgBytes)));
  const burst = Math.max(1, Math.min(256, Math.floor((256 * 1024) / msgBytes)));
  // Warm up: connect.
  sender.send([makeMessage(sc, 0)]);
  const base = received();
  while (received().messages < base.messages + 1) await new Promise((r) => setTimeout(r, 1));
  const start0 = received();
  let sent = start0.messages;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(seconds * 1e9);
  let index = 1;
  while (process.hrtime.bigint() < deadline) {
    if (sent - received().messages < windowMessages) {
      const batch = [];
      for (let i = 0; i < burst; i++) batch.push(makeMessage(sc, (index += sc.entries || 1)));
      sender.send(batch);
      sent += burst;
    }
    await new Promise((r) => setImmediate(r));
  }
  const end = received();
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = sender.peerStats().m2;
  await sender.close();
  const msgs = end.messages - start0.messages;
  const mb = (end.bytes - start0.bytes) / 1e6;
  return {
    scenario: sc.name,
    'msgs/s': Math.round(msgs / elapsed),
    'MB/s (entry data)': Number((mb / elapsed).toFixed(1)),
    'entries/s': Math.round((msgs * sc.entries) / elapsed),
    batches: stats.sentBatches,
    'msgs/batch': Number((stats.sentMessages / Math.max(1, stats.sentBatches)).toFixed(1)),
    dropped: stats.droppedMessages,
  };
}

async function main() {
  let port;
  let counts = { messages: 0, bytes: 0 };
  let stop;
  let child;
  if (oneProcess) {
    const r = await startReceiver((messages, bytes) => (counts = { messages, bytes }));
    port = r.port;
    stop = r.stop;
  } else {
    child = fork(fileURLToPath(import.meta.url), ['--receiver', ...(tuned ? ['--enlarge-windows'] : [])], { stdio: 'inherit' });
    port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
    child.on('message', (m) => {
      if (m.messages !== undefined) counts = { messages: m.messages, bytes: m.bytes };
    });
    stop = async () => {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    };
  }
  const rows = [];
  for (const sc of scenarios) {
    if (only === undefined || sc.name.includes(only)) rows.push(await runScenario(sc, port, () => counts));
  }
  await stop();
  console.log(`PeerTransport MsgApp throughput, ${seconds} s per scenario, ${oneProcess ? 'one process' : 'receiver in a child process'}${tuned ? ', enlarged HTTP/2 windows' : ''}, node ${process.version}`);
  console.table(rows);
}

async function receiverMain() {
  let last = 0;
  const r = await startReceiver((messages, bytes) => {
    if (messages !== last) {
      last = messages;
      process.send({ messages, bytes });
    }
  });
  process.send({ port: r.port });
  process.on('message', async (m) => {
    if (m === 'stop') {
      await r.stop();
      process.disconnect();
    }
  });
}

if (args.includes('--receiver')) await receiverMain();
else await main();
