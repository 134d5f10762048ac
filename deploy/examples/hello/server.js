#!/usr/bin/env node
// The demo workload: a tiny HTTP server that says which pod and node answered.
// The agent hands in POD_IP (the node's address: bind it, never 0.0.0.0, since
// emulated nodes share one machine) and PORT (the host port assigned to the
// container's first declared port).
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const host = process.env.POD_IP ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
const node = process.env.NODE_NAME ?? 'unknown';
const greeting = process.env.GREETING ?? 'hello from Bramble';
// Set by the blue/green recipe (docs/blue-green.md): the reply says which Deployment answered.
const color = process.env.COLOR;
const started = Date.now();
let served = 0;

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  served++;
  const body = { greeting, ...(color ? { color } : {}), pod, node, address: `${host}:${port}`, served, uptimeSeconds: Math.round((Date.now() - started) / 1000) };
  res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
});

server.listen(port, host, () => console.log(`hello: ${pod} listening on http://${host}:${port}`));

// Finish in-flight requests on SIGTERM, like a well-behaved pod.
process.on('SIGTERM', () => {
  console.log('hello: SIGTERM, closing');
  server.close(() => process.exit(0));
});
