// The to-do example app (deploy/examples/todo-app): its manifests validate, its RESP client
// speaks to a real redis-server, and the web app writes to the master, reads from a replica
// (falling back to the master), serves v1 and v2 over the same data, and shuts down gracefully.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyDefaults, parseManifests, validate, type Deployment, type Resource, type Service } from '@bramble/api';
import { freePort, waitFor } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module without type declarations (the example has no build step)
import { encodeCommand, parseReply, RedisClient, RedisError } from '../../deploy/examples/todo-app/web/redis.js';
import { ensureRedisServer } from '../redis-server.js';

const APP = fileURLToPath(new URL('../../deploy/examples/todo-app/', import.meta.url));
const HOST = '127.0.0.1';

const children = new Set<ChildProcess>();

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): ChildProcess & { output: () => string } {
  let out = '';
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { output: () => string };
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  child.output = () => out;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

interface Todo {
  id: number;
  text: string;
  done?: boolean;
  createdAt?: string;
}

/** The web app's JSON answers (each carries some of these). */
interface AppReply {
  todo: Todo;
  todos: Todo[];
  readFrom: 'replica' | 'master';
  error: string;
  version: string;
  pod: string;
}

async function readJson(res: Response | Promise<Response>): Promise<AppReply> {
  return (await (await res).json()) as AppReply;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

async function startRedis(dir: string, extra: string[] = []): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort(HOST);
  const proc = start('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, ...extra]);
  const probe = new RedisClient({ host: HOST, port });
  try {
    await waitFor(`redis on ${port}`, () => probe.command('PING').then((r: string) => r === 'PONG', () => false), 10_000, 50);
  } finally {
    probe.close();
  }
  return { port, proc };
}

describe('todo-app manifests', () => {
  const files = [...readdirSync(APP).filter((f) => f.endsWith('.yaml')).sort(), 'upgrade/web-v2.yaml'];
  const objects = new Map<string, Resource[]>(files.map((f) => [f, parseManifests(readFileSync(join(APP, f), 'utf8'), f)]));

  it('every object is valid, and each file declares its Service before its Deployment', () => {
    expect(files).toEqual(['config.yaml', 'redis-master.yaml', 'redis-replica.yaml', 'secret.yaml', 'web-v1.yaml', 'upgrade/web-v2.yaml']);
    for (const [file, objs] of objects) {
      for (const o of objs) expect(validate(applyDefaults(o)), `${file}: ${o.kind}/${o.metadata.name}`).toEqual([]);
      const kinds = objs.map((o) => o.kind);
      if (kinds.includes('Deployment') && kinds.includes('Service')) expect(kinds.indexOf('Service')).toBeLessThan(kinds.indexOf('Deployment'));
    }
  });

  it('has the shape the walk-through relies on', () => {
    const get = <T extends Resource>(file: string, kind: string) => objects.get(file)!.find((o) => o.kind === kind) as T;
    expect(get<Deployment>('redis-master.yaml', 'Deployment').spec.replicas).toBe(1);
    expect(get<Service>('redis-master.yaml', 'Service').spec.ports[0].port).toBe(6379);
    const replica = get<Deployment>('redis-replica.yaml', 'Deployment');
    expect(replica.spec.replicas).toBe(2);
    expect(replica.spec.template.spec.containers[0].command).toContain('$(REDIS_MASTER_SERVICE_HOST)');
    expect(get<Service>('redis-replica.yaml', 'Service').spec.ports[0].port).toBe(6380);
    // Each redis pod writes into its own emptyDir, never into the agent's working directory.
    for (const file of ['redis-master.yaml', 'redis-replica.yaml']) {
      const spec = get<Deployment>(file, 'Deployment').spec.template.spec;
      expect(spec.containers[0].command?.join(' ')).toContain('--dir $(VOLUME_DATA)');
      expect(spec.volumes).toEqual([{ name: 'data', emptyDir: {} }]);
    }
    const web = get<Service>('web-v1.yaml', 'Service');
    expect(web.spec).toMatchObject({ type: 'NodePort', ports: [{ port: 8080, nodePort: 30080 }] });
    for (const [file, version] of [['web-v1.yaml', 'v1'], ['upgrade/web-v2.yaml', 'v2']] as const) {
      const d = get<Deployment>(file, 'Deployment');
      expect(d.metadata.name).toBe('todo-web');
      expect(d.spec).toMatchObject({ replicas: 3, minReadySeconds: 2, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
      const c = d.spec.template.spec.containers[0];
      expect(c.command).toEqual(['node', 'deploy/examples/todo-app/web/server.js']);
      expect(c.env?.find((e) => e.name === 'APP_VERSION')?.value).toBe(version);
      expect(c.readinessProbe?.httpGet?.path).toBe('/healthz');
    }
  });
});

describe('the RESP encoder and parser', () => {
  it('encodes every argument as a bulk string, counting bytes', () => {
    expect(encodeCommand(['SET', 'k', 'héllo', 42]).toString()).toBe('*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n$2\r\n42\r\n');
  });

  it('parses each reply type, nested arrays and nils, and waits for incomplete input', () => {
    const buf = Buffer.from('+OK\r\n:12\r\n$5\r\nhé!!\r\n$-1\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n*-1\r\n-ERR bad\r\n');
    const values = [];
    let at = 0;
    for (let i = 0; i < 7; i++) {
      const r = parseReply(buf, at);
      values.push(r.value);
      at = r.next;
    }
    expect(values.slice(0, 6)).toEqual(['OK', 12, 'hé!!', null, [[1], ''], null]);
    expect(values[6]).toBeInstanceOf(RedisError);
    expect(values[6].message).toBe('ERR bad');
    expect(at).toBe(buf.length);
    // Every proper prefix of a reply is incomplete.
    const whole = Buffer.from('*2\r\n$3\r\nabc\r\n:7\r\n');
    for (let n = 0; n < whole.length; n++) expect(typeof parseReply(whole.subarray(0, n))).toBe('symbol');
    expect(parseReply(whole).value).toEqual(['abc', 7]);
  });
});

describe('the RESP client and the web app against real redis-server', () => {
  let dir: string;
  let master: { port: number; proc: ChildProcess };
  let replica: { port: number; proc: ChildProcess };

  beforeAll(async () => {
    ensureRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'bramble-todo-app-'));
    master = await startRedis(dir, ['--repl-diskless-sync-delay', '0']);
    replica = await startRedis(dir, ['--replicaof', HOST, String(master.port)]);
    const c = new RedisClient({ host: HOST, port: replica.port });
    await waitFor('the replica in sync', async () => /master_link_status:up/.test(await c.command('INFO', 'replication')), 10_000, 50);
    c.close();
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...children].map((c) => stop(c)));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the client: strings, integers, lists, nil, error replies, and many pipelined commands in order', async () => {
    const c = new RedisClient({ host: HOST, port: master.port });
    try {
      expect(await c.command('SET', 'greeting', 'grüezi ✓')).toBe('OK');
      expect(await c.command('GET', 'greeting')).toBe('grüezi ✓');
      expect(await c.command('GET', 'no-such-key')).toBeNull();
      await c.command('DEL', 'l');
      expect(await c.command('RPUSH', 'l', 'a', 'b', 'c')).toBe(3);
      expect(await c.command('LRANGE', 'l', '0', '-1')).toEqual(['a', 'b', 'c']);
      await expect(c.command('INCR', 'greeting')).rejects.toThrow(/ERR value is not an integer/);
      expect(await c.command('PING')).toBe('PONG'); // the connection survives an error reply
      await c.command('DEL', 'n');
      const replies = await Promise.all(Array.from({ length: 2000 }, () => c.command('INCR', 'n')));
      expect(replies).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
      const mixed = await c.pipeline([['SET', 'x', '1'], ['INCR', 'greeting'], ['GET', 'x']]);
      expect(mixed[0]).toBe('OK');
      expect(mixed[1]).toBeInstanceOf(RedisError);
      expect(mixed[2]).toBe('1');
    } finally {
      c.close();
    }
    expect(() => new RedisClient({ host: HOST, port: 0 })).toThrow(/host and a positive integer port are required/);
  });

  it('the client: a dropped connection rejects what was in flight and the next command reconnects; a reply that never comes times out', async () => {
    const c = new RedisClient({ host: HOST, port: master.port, commandTimeoutMs: 5_000 });
    const admin = new RedisClient({ host: HOST, port: master.port });
    try {
      const id = await c.command('CLIENT', 'ID');
      // Settled into a value at once: the kill below may close the connection (and reject
      // the BLPOP) before the KILL's own reply arrives, and a rejection with no handler yet
      // is an unhandled rejection even if one is attached a moment later.
      const blocked = c.command('BLPOP', 'never-filled', '0').then(
        (reply: unknown) => new Error(`BLPOP resolved with ${JSON.stringify(reply)}`),
        (err: Error) => err,
      );
      await waitFor('the client blocked', async () => new RegExp(`id=${id} .*cmd=blpop`).test(await admin.command('CLIENT', 'LIST')), 5_000, 20);
      expect(await admin.command('CLIENT', 'KILL', 'ID', String(id))).toBe(1);
      expect((await blocked).message).toMatch(/redis .*: connection closed/);
      expect(await c.command('PING')).toBe('PONG');
      expect(await c.command('CLIENT', 'ID')).not.toBe(id);
      const impatient = new RedisClient({ host: HOST, port: master.port, commandTimeoutMs: 300 });
      await expect(impatient.command('BLPOP', 'never-filled', '0')).rejects.toThrow('no reply to BLPOP within 300 ms');
      expect(await impatient.command('PING')).toBe('PONG');
      impatient.close();
      const refused = new RedisClient({ host: HOST, port: await freePort(HOST) });
      await expect(refused.command('PING')).rejects.toThrow(/ECONNREFUSED/);
      refused.close();
    } finally {
      c.close();
      admin.close();
    }
  });

  async function startWeb(version: 'v1' | 'v2', env: Record<string, string> = {}) {
    const port = await freePort(HOST);
    const configDir = join(dir, `config-${version}-${port}`);
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'welcome.txt'), 'Welcome, v1 of the text.\n');
    const proc = start(
      process.execPath,
      [join(APP, 'web/server.js')],
      {
        POD_IP: HOST,
        PORT: String(port),
        POD_NAME: `todo-web-${version}`,
        APP_VERSION: version,
        REDIS_MASTER_SERVICE_HOST: HOST,
        REDIS_MASTER_SERVICE_PORT: String(master.port),
        REDIS_REPLICA_SERVICE_HOST: HOST,
        REDIS_REPLICA_SERVICE_PORT: String(replica.port),
        TITLE: 'Test to-dos',
        MAX_TODO_LENGTH: '20',
        VOLUME_CONFIG: configDir,
        ADMIN_TOKEN: 's3cret',
        ...env,
      },
      dir,
    );
    const base = `http://${HOST}:${port}`;
    await waitFor(`the ${version} web app ready`, () => fetch(`${base}/healthz`).then((r) => r.status === 200, () => false), 10_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output()}`);
    });
    return { proc, base, port, configDir };
  }

  const post = (base: string, body: unknown, path = '/todos') => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('v1: adds to-dos on the master, lists them from the replica at once, validates input, serves the page, clears with the token', async () => {
    const web = await startWeb('v1');
    expect(await readJson(fetch(`${web.base}/version`))).toEqual({ version: 'v1', pod: 'todo-web-v1' });
    const del = (auth?: string) => fetch(`${web.base}/todos`, { method: 'DELETE', headers: auth ? { authorization: auth } : {} });
    expect((await del()).status).toBe(401);
    expect((await del('Bearer s3cret')).status).toBe(200);

    for (const text of ['milk', 'bread', 'eggs']) {
      const res = await post(web.base, { text });
      expect(res.status).toBe(201);
      expect((await readJson(res)).todo).toMatchObject({ text });
      // Read right after the write: from the replica, already there (the write waited for it).
      const list = await readJson(fetch(`${web.base}/todos`));
      expect(list.readFrom).toBe('replica');
      expect(list.todos.at(-1)?.text).toBe(text);
    }
    const form = await fetch(`${web.base}/todos`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'text=from+a+form' });
    expect(form.status).toBe(201);
    const list = await readJson(fetch(`${web.base}/todos`));
    expect(list.todos.map((t: { text: string }) => t.text)).toEqual(['milk', 'bread', 'eggs', 'from a form']);
    expect(list.todos[0]).not.toHaveProperty('done');

    const bad = await post(web.base, { text: '' });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error).toBe('text: required (a non-empty string)');
    expect((await readJson(post(web.base, { text: 'x'.repeat(21) }))).error).toBe('text: at most 20 characters (got 21)');
    expect((await fetch(`${web.base}/todos`, { method: 'POST', body: '{oops' })).status).toBe(400);
    expect((await post(web.base, { done: true }, '/todos/1/done')).status).toBe(404); // a v2 feature

    const html = await (await fetch(`${web.base}/`)).text();
    expect(html).toContain('<title>Test to-dos</title>');
    expect(html).toContain('Welcome, v1 of the text.');
    expect(html).not.toContain('Version 2');
    writeFileSync(join(web.configDir, 'welcome.txt'), 'Edited welcome.\n');
    expect(await (await fetch(`${web.base}/`)).text()).toContain('Edited welcome.');
    await stop(web.proc);
  });

  it('v2 serves the same to-dos with a done flag and a banner; v1 keeps working on the same data', async () => {
    const v1 = await startWeb('v1');
    const v2 = await startWeb('v2');
    const added = (await readJson(post(v1.base, { text: 'from v1' }))).todo;
    const list2 = await readJson(fetch(`${v2.base}/todos`));
    expect(list2.version).toBe('v2');
    const mine = list2.todos.find((t: { id: number }) => t.id === added.id);
    expect(mine).toMatchObject({ text: 'from v1', done: false });
    const done = await post(v2.base, { done: true }, `/todos/${added.id}/done`);
    expect(done.status).toBe(200);
    expect((await readJson(done)).todo).toMatchObject({ id: added.id, done: true });
    expect((await readJson(fetch(`${v2.base}/todos`))).todos.find((t: { id: number }) => t.id === added.id)?.done).toBe(true);
    expect((await post(v2.base, {}, '/todos/999999/done')).status).toBe(404);
    expect(await (await fetch(`${v2.base}/`)).text()).toContain('Version 2: to-dos can be marked done');
    const list1 = await readJson(fetch(`${v1.base}/todos`));
    expect(list1.todos.find((t: { id: number }) => t.id === added.id)).toEqual({ id: added.id, text: 'from v1', createdAt: added.createdAt });
    await Promise.all([stop(v1.proc), stop(v2.proc)]);
  });

  it('reads from the master when the replica goes away, without a failed request', async () => {
    const spare = await startRedis(dir, ['--replicaof', HOST, String(master.port)]);
    const c = new RedisClient({ host: HOST, port: spare.port });
    await waitFor('the spare replica in sync', async () => /master_sync_in_progress:0/.test(await c.command('INFO', 'replication')) && /master_link_status:up/.test(await c.command('INFO', 'replication')), 10_000, 50);
    c.close();
    const web = await startWeb('v1', { REDIS_REPLICA_SERVICE_PORT: String(spare.port) });
    await post(web.base, { text: 'kept' });
    await waitFor('a read from the replica', async () => (await readJson(fetch(`${web.base}/todos`))).readFrom === 'replica', 5_000, 50);
    let failures = 0;
    let requests = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        const res = await fetch(`${web.base}/todos`).catch(() => undefined);
        requests++;
        if (!res || res.status !== 200) failures++;
        else if (!(await readJson(res)).todos.some((t: { text: string }) => t.text === 'kept')) failures++;
      }
    })();
    await waitFor('some requests', () => requests > 20, 5_000, 10);
    await stop(spare.proc);
    await waitFor('a read from the master', async () => (await readJson(fetch(`${web.base}/todos`))).readFrom === 'master', 5_000, 50);
    const after = requests;
    await waitFor('more requests', () => requests > after + 20, 5_000, 10);
    running = false;
    await load;
    expect(failures).toBe(0);
    await stop(web.proc);
  });

  it('a replica that stops acknowledging slows each write by the WAIT timeout but fails none (writes do not queue behind each other)', async () => {
    const spare = await startRedis(dir, ['--replicaof', HOST, String(master.port)]);
    const admin = new RedisClient({ host: HOST, port: master.port });
    try {
      // Both replicas online in the master's view before the app counts them.
      await waitFor('two replicas online', async () => ((await admin.command('INFO', 'replication')) as string).match(/state=online/g)?.length === 2, 10_000, 50);
      const web = await startWeb('v1');
      expect((await post(web.base, { text: 'before the stall' })).status).toBe(201);
      spare.proc.kill('SIGSTOP'); // still connected, never acknowledges: every WAIT runs to its 500 ms
      try {
        // Sent together: on one shared connection each would wait behind the others' WAITs (12 x 500 ms).
        const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => post(web.base, { text: `stalled ${i}` })));
        expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 12 }, () => 201));
      } finally {
        spare.proc.kill('SIGCONT');
      }
      await stop(web.proc);
    } finally {
      admin.close();
      await stop(spare.proc);
    }
  });

  it('on SIGTERM: turns unready, finishes the request in flight, closes the listener and exits 0', async () => {
    const web = await startWeb('v1', { DRAIN_MS: '300' });
    // A POST whose body is still arriving when SIGTERM comes.
    const sock = connect(web.port, HOST);
    await new Promise((r) => sock.once('connect', r));
    const body = JSON.stringify({ text: 'in flight' });
    let response = '';
    sock.on('data', (d) => (response += d));
    sock.write(`POST /todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`);
    const exited = new Promise<number | null>((r) => web.proc.once('exit', (code) => r(code)));
    web.proc.kill('SIGTERM');
    await waitFor('healthz 503 while draining', () => fetch(`${web.base}/healthz`).then((r) => r.status === 503, () => false), 5_000, 20);
    sock.write(body.slice(5));
    await waitFor('the in-flight POST answered', () => response.includes('\r\n\r\n') && response.includes('in flight'), 5_000, 20);
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(response.toLowerCase()).toContain('connection: close');
    expect(await exited).toBe(0);
    await expect(fetch(`${web.base}/healthz`)).rejects.toThrow();
    sock.destroy();
  });
});
