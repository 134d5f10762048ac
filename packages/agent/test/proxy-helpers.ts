// Shared pieces of the proxy tests: real TCP servers standing in for pods, Service and
// Endpoints objects, and a client that reads what it is sent.
import type { Endpoints, Service, ServicePort } from '@bramble/api';
import { freePort } from '@bramble/testkit';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';

export const HOST = '127.0.0.1';
export const silent = pino({ level: 'silent' });

const servers = new Set<Server>();
const sockets = new Set<Socket>();

/** Close every server and socket a test opened. */
export async function closeAll(): Promise<void> {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(
    [...servers].map(
      (srv) =>
        new Promise<void>((resolve) => {
          srv.close(() => resolve());
          (srv as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
    ),
  );
  servers.clear();
}

export function track(socket: Socket): Socket {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  return socket;
}

export interface Pod {
  name: string;
  port: number;
  server: Server;
  /** Connections it accepted. */
  accepted: Socket[];
}

/** A pod: greets each connection with `<name>\n`, then echoes what it reads. */
export async function namedServer(name: string, options: { allowHalfOpen?: boolean; onSocket?: (s: Socket) => void } = {}): Promise<Pod> {
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    track(socket);
    accepted.push(socket);
    socket.on('error', () => socket.destroy());
    if (options.onSocket) return options.onSocket(socket);
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  servers.add(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  return { name, port: (server.address() as { port: number }).port, server, accepted };
}

/** A port nothing listens on (connects are refused). */
export async function deadPort(): Promise<number> {
  return freePort(HOST);
}

export function service(name: string, ports: ServicePort[], type: 'ClusterIP' | 'NodePort' = 'ClusterIP', created = '2024-01-01T00:00:00Z'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: created }, spec: { type, ports } };
}

export function endpoints(name: string, ports: number[], portName?: string, notReady: number[] = []): Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: 'default' },
    subsets: [...ports, ...notReady].map((port) => ({
      addresses: ports.includes(port) ? [{ ip: HOST }] : [],
      notReadyAddresses: notReady.includes(port) ? [{ ip: HOST }] : [],
      ports: [{ ...(portName ? { name: portName } : {}), port, protocol: 'TCP' as const }],
    })),
  };
}

/** A client socket plus everything it has received so far. */
export interface Client {
  socket: Socket;
  received(): string;
  /** Resolves when the peer ended or the socket closed. */
  ended: Promise<void>;
  /** The connection was refused or reset. */
  error?: Error;
}

export function dial(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = track(connect({ host: HOST, port, allowHalfOpen: true }));
    let data = '';
    let endedResolve!: () => void;
    const ended = new Promise<void>((r) => (endedResolve = r));
    const client: Client = { socket, received: () => data, ended };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', endedResolve);
    socket.on('close', endedResolve);
    socket.on('error', (err) => {
      client.error = err;
      reject(err);
    });
    socket.once('connect', () => resolve(client));
  });
}

/** Resolves when `text()` satisfies `done`; rejects when the connection ends first or after 5 s. */
function receive(client: Client, done: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done()) finish();
    };
    const onEnd = (): void => finish(new Error(`connection closed before ${what} (got ${JSON.stringify(client.received())})`));
    const timer = setTimeout(() => finish(new Error(`no ${what} within 5 s (got ${JSON.stringify(client.received())})`)), 5_000);
    function finish(err?: Error): void {
      clearTimeout(timer);
      client.socket.removeListener('data', check);
      if (err) reject(err);
      else resolve();
    }
    client.socket.on('data', check);
    void client.ended.then(() => (done() ? finish() : onEnd()));
    check();
  });
}

/** Connect, wait for the greeting line, return the pod name it names. */
export async function greeting(port: number): Promise<{ client: Client; name: string }> {
  const client = await dial(port);
  await receive(client, () => client.received().includes('\n'), `a greeting through port ${port}`);
  return { client, name: client.received().split('\n')[0] };
}

/** Send a line and wait for its echo. */
export async function echo(client: Client, line: string): Promise<void> {
  const before = client.received().length;
  client.socket.write(`${line}\n`);
  await receive(client, () => client.received().slice(before).includes(`${line}\n`), `the echo of ${line}`);
}
