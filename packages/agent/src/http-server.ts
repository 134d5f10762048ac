// /healthz and /metrics (Prometheus text) on --http, as every Bramble process serves them.
import { createServer, type Server } from 'node:http';

export interface HttpSources {
  /** undefined = healthy; otherwise why not. */
  unhealthyReason(): string | undefined;
  metrics(): string;
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

export async function startHttpServer(address: string, sources: HttpSources): Promise<Server> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const why = sources.unhealthyReason();
      res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(why ? `${why}\n` : 'ok\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(sources.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `--http ${address}: address already in use` : `--http ${address}: ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
