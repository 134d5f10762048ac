import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.js';
import { parseHostPort } from './options.js';

export interface HealthSource {
  /** The process and its Raft loop are alive. */
  healthy(): boolean;
  /** Ready to serve: a leader is known and this member has applied what it knew committed. */
  ready(): { ok: boolean; reason: string };
}

/** /healthz, /readyz and /metrics (Prometheus text), as Kubernetes components serve them. */
export async function startHttpServer(address: string, metrics: Metrics, health: HealthSource): Promise<Server> {
  const { host, port } = parseHostPort(address, '--http');
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const ok = health.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'raft loop stopped\n');
    } else if (path === '/readyz') {
      const r = health.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.reason}\n`);
    } else if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text))
        .catch((err: Error) => res.writeHead(500).end(`${err.message}\n`));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
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
