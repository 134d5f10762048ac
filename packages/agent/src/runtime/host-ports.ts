/**
 * Host ports for declared container ports. Emulated nodes share one machine's port
 * space, so a port is chosen by binding port 0 on the node's address (the kernel picks
 * one free there) and then released for the pod to bind. Ports handed out stay reserved
 * until their pod is forgotten, so two pods never get the same port and a restarted
 * container binds the same port again.
 */
import { createServer } from 'node:net';

const MAX_ATTEMPTS = 50;

export class HostPortAllocator {
  private readonly reserved = new Set<number>();

  constructor(private readonly address: string) {}

  /** Marks ports as taken (ports of adopted pods). */
  reserve(ports: Iterable<number>): void {
    for (const p of ports) this.reserved.add(p);
  }

  release(ports: Iterable<number>): void {
    for (const p of ports) this.reserved.delete(p);
  }

  isReserved(port: number): boolean {
    return this.reserved.has(port);
  }

  /** A port free on the address right now and not handed out before; reserved on return. */
  async allocate(): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const port = await bindProbe(this.address);
      if (!this.reserved.has(port)) {
        this.reserved.add(port);
        return port;
      }
    }
    throw new Error(`no free host port on ${this.address} after ${MAX_ATTEMPTS} attempts (${this.reserved.size} reserved)`);
  }
}

function bindProbe(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err) => reject(new Error(`cannot bind a port on ${address}: ${err.message}`)));
    srv.listen(0, address, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
