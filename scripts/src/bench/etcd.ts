// A local 3-member etcd for `scripts/bench kv --target etcd` and `bench failover --target etcd`,
// driven over its own gRPC API so Bramble and etcd face the same load generator.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '@bramble/transport';
import { freePort, waitFor } from '@bramble/testkit';

const protoFile = resolve(fileURLToPath(new URL('../../proto/etcd-rpc.proto', import.meta.url)));

export interface BenchClient {
  kvCall(method: 'Put' | 'Range', req: object): Promise<unknown>;
  close(): void;
}

export function etcdClient(address: string, timeoutMs = 10_000): BenchClient {
  const pkg = loadProto(protoFile) as unknown as { etcdserverpb: { KV: grpc.ServiceClientConstructor } };
  const c = new pkg.etcdserverpb.KV(address, grpc.credentials.createInsecure()) as unknown as Record<string, Function> & grpc.Client;
  return {
    kvCall: (method, req) =>
      new Promise((res, rej) => c[method](req, { deadline: new Date(Date.now() + timeoutMs) }, (err: Error | null, r: unknown) => (err ? rej(err) : res(r)))),
    close: () => c.close(),
  };
}

export interface EtcdMember {
  name: string;
  client: string;
  peer: string;
  dataDir: string;
  log: string;
  proc?: ChildProcess;
}

export interface EtcdCluster {
  endpoints: string[];
  members: EtcdMember[];
  kill(name: string): Promise<void>;
  restart(name: string): void;
  leader(): Promise<string | undefined>;
  destroy(): Promise<void>;
}

export async function startEtcdCluster(opts: { heartbeatMs?: number; electionMs?: number } = {}): Promise<EtcdCluster> {
  if (spawnSync('etcd', ['--version']).status !== 0) {
    throw new Error("--target etcd needs etcd on PATH: apt-get install etcd-server");
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 1; i <= 3; i++) {
    members.push({
      name: `e${i}`,
      client: `127.0.0.1:${await freePort()}`,
      peer: `127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `e${i}`),
      log: join(dir, `e${i}.log`),
    });
  }
  const initial = members.map((m) => `${m.name}=http://${m.peer}`).join(',');
  const start = (m: EtcdMember): void => {
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', `http://${m.client}`, '--advertise-client-urls', `http://${m.client}`,
      '--listen-peer-urls', `http://${m.peer}`, '--initial-advertise-peer-urls', `http://${m.peer}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench',
      ...(opts.heartbeatMs ? ['--heartbeat-interval', String(opts.heartbeatMs)] : []),
      ...(opts.electionMs ? ['--election-timeout', String(opts.electionMs)] : []),
    ];
    const fd = openSync(m.log, 'a');
    m.proc = spawn('etcd', args, { stdio: ['ignore', fd, fd], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } });
    closeSync(fd);
  };
  members.forEach(start);
  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.client),
    members,
    async kill(name) {
      const m = members.find((x) => x.name === name)!;
      if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return;
      const exited = new Promise((r) => m.proc!.once('exit', r));
      m.proc.kill('SIGKILL');
      await exited;
    },
    restart(name) {
      start(members.find((x) => x.name === name)!);
    },
    async leader() {
      // etcd's maintenance Status is not declared here; ask each member's /v3 gateway instead.
      for (const m of members) {
        if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) continue;
        try {
          const res = await fetch(`http://${m.client}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) });
          const body = (await res.json()) as { leader?: string; header?: { member_id?: string } };
          if (body.leader && body.leader === body.header?.member_id) return m.name;
        } catch {
          // next
        }
      }
      return undefined;
    },
    async destroy() {
      await Promise.all(members.map((m) => cluster.kill(m.name)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('etcd to elect a leader', () => cluster.leader(), 20_000, 100);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
