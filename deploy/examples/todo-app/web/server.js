#!/usr/bin/env node
// The to-do web app: a small HTTP server without npm dependencies.
//
//   GET  /                 the page (title from the ConfigMap, welcome text from its volume)
//   GET  /todos            the list, read from a redis replica (the master when no replica is in sync)
//   POST /todos            add one: JSON {"text": "..."} or a form field text=...; written to the master
//   POST /todos/:id/done   v2 only: mark done (JSON {"done": false} to undo)
//   DELETE /todos          remove all; needs `Authorization: Bearer <ADMIN_TOKEN>` (from the Secret)
//   GET  /healthz          200 while the redis master answers and the server is not shutting down
//   GET  /version          {version, pod}
//
// Environment (the agent and the manifests hand it in):
//   POD_IP, PORT                               where to listen (the node's address, the host port)
//   APP_VERSION                                v1 or v2 (v2 adds the `done` flag and a version banner)
//   REDIS_MASTER_SERVICE_HOST / _PORT          the redis-master Service (injected by the agent)
//   REDIS_REPLICA_SERVICE_HOST / _PORT         the redis-replica Service (optional: reads go to the master without it)
//   TITLE, MAX_TODO_LENGTH                     from the todo-config ConfigMap (envFrom)
//   VOLUME_CONFIG                              the todo-config volume's directory (welcome.txt is read from it)
//   ADMIN_TOKEN                                from the todo-secret Secret
//   DRAIN_MS                                   after SIGTERM, how long to keep serving open connections (default 1000)
//
// On SIGTERM: /healthz turns 503, responses say `Connection: close`, and after DRAIN_MS the
// listener closes; in-flight requests finish, then the process exits 0.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { info, RedisClient } from './redis.js';

const VERSION = process.env.APP_VERSION === 'v2' ? 'v2' : 'v1';
const POD = process.env.POD_NAME ?? hostname();
const HOST = process.env.POD_IP ?? '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8080);
const TITLE = process.env.TITLE ?? 'Bramble to-dos';
const MAX_TODO_LENGTH = Number(process.env.MAX_TODO_LENGTH ?? 500);
const DRAIN_MS = Number(process.env.DRAIN_MS ?? 1_000);
const MAX_BODY_BYTES = 16 * 1024;

function redisAddress(prefix, fallback) {
  const host = process.env[`${prefix}_SERVICE_HOST`];
  const port = Number(process.env[`${prefix}_SERVICE_PORT`]);
  if (!host || !Number.isInteger(port) || port <= 0) return fallback;
  return { host, port };
}

const masterAddress = redisAddress('REDIS_MASTER', { host: '127.0.0.1', port: 6379 });
const replicaAddress = redisAddress('REDIS_REPLICA', undefined);
// Reads and probes share one connection to the master; writes borrow one of their own (below).
const master = new RedisClient({ ...masterAddress, name: 'master' });
const replica = replicaAddress ? new RedisClient({ ...replicaAddress, name: 'replica' }) : undefined;

/**
 * Connections for writes. WAIT blocks the connection it is sent on until the replicas have the
 * writes made on it (or its timeout passes), and every command queued behind it waits too: so each
 * write request borrows a connection of its own, and a slow WAIT delays only its own request.
 */
const idleWriters = [];
const MAX_IDLE_WRITERS = 8;
async function withWriter(fn) {
  const client = idleWriters.pop() ?? new RedisClient({ ...masterAddress, name: 'master' });
  try {
    return await fn(client);
  } finally {
    if (idleWriters.length < MAX_IDLE_WRITERS) idleWriters.push(client);
    else client.close();
  }
}

/** A value recomputed at most every `ttlMs`; concurrent callers share one computation. */
function cached(ttlMs, compute) {
  let value;
  let at = 0;
  let running;
  return async () => {
    if (Date.now() - at < ttlMs) return value;
    running ??= compute()
      .then((v) => {
        value = v;
        at = Date.now();
        return v;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

/** The replica we reach is linked to its master and not in the middle of a full sync. */
const replicaInSync = cached(1_000, async () => {
  if (!replica) return false;
  try {
    const r = await info(replica, 'replication');
    return r.role === 'slave' && r.master_link_status === 'up' && r.master_sync_in_progress === '0';
  } catch {
    return false;
  }
});

/**
 * Replicas in sync with the master (`slaveN:...,state=online,...`): a write waits (briefly) until
 * they have it, so a read right after sees it. A replica still in its initial sync cannot
 * acknowledge, and reads do not go to it anyway, so it does not count.
 */
const onlineReplicas = cached(2_000, async () => {
  try {
    const r = await info(master, 'replication');
    return Object.keys(r).filter((k) => /^slave\d+$/.test(k) && r[k].split(',').includes('state=online')).length;
  } catch {
    return 0;
  }
});

async function waitForReplicas(client) {
  const replicas = await onlineReplicas();
  if (replicas > 0) await client.command('WAIT', String(replicas), '500');
}

function toTodo(id, h) {
  if (!h) return undefined;
  const fields = {};
  for (let i = 0; i + 1 < h.length; i += 2) fields[h[i]] = h[i + 1];
  if (fields.text === undefined) return undefined;
  const todo = { id: Number(id), text: fields.text, createdAt: fields.createdAt };
  if (VERSION === 'v2') todo.done = fields.done === '1';
  return todo;
}

async function readTodos(client) {
  const ids = await client.command('LRANGE', 'todos', '0', '-1');
  if (ids.length === 0) return [];
  const hashes = await Promise.all(ids.map((id) => client.command('HGETALL', `todo:${id}`)));
  return ids.map((id, i) => toTodo(id, hashes[i])).filter(Boolean);
}

async function listTodos() {
  if (replica && (await replicaInSync())) {
    try {
      return { readFrom: 'replica', todos: await readTodos(replica) };
    } catch (err) {
      console.log(`read from the replica failed, using the master: ${err.message}`);
    }
  }
  return { readFrom: 'master', todos: await readTodos(master) };
}

function addTodo(text) {
  return withWriter(async (w) => {
    const id = await w.command('INCR', 'todos:next');
    const createdAt = new Date().toISOString();
    // MULTI..EXEC sent at once on this request's own connection: nothing can land inside it.
    await Promise.all([
      w.command('MULTI'),
      w.command('HSET', `todo:${id}`, 'text', text, 'createdAt', createdAt),
      w.command('RPUSH', 'todos', String(id)),
      w.command('EXEC'),
    ]);
    await waitForReplicas(w);
    return toTodo(id, ['text', text, 'createdAt', createdAt]);
  });
}

function setDone(id, done) {
  return withWriter(async (w) => {
    if ((await w.command('EXISTS', `todo:${id}`)) !== 1) return undefined;
    await w.command('HSET', `todo:${id}`, 'done', done ? '1' : '0');
    await waitForReplicas(w);
    return toTodo(id, await w.command('HGETALL', `todo:${id}`));
  });
}

function clearTodos() {
  return withWriter(async (w) => {
    const ids = await w.command('LRANGE', 'todos', '0', '-1');
    await w.command('DEL', 'todos', ...ids.map((id) => `todo:${id}`));
    return ids.length;
  });
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The JSON or form body as an object. */
async function bodyFields(req) {
  const raw = await readBody(req);
  if (raw.trim() === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    const parsed = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch (err) {
    throw new HttpError(400, `body must be a JSON object or a form (${err.message})`);
  }
}

function welcomeText() {
  const dir = process.env.VOLUME_CONFIG;
  if (!dir) return '';
  try {
    return readFileSync(join(dir, 'welcome.txt'), 'utf8').trim(); // read per request: ConfigMap updates show up
  } catch {
    return '';
  }
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page() {
  const banner = VERSION === 'v2' ? `<p class="banner">Version 2: to-dos can be marked done. Served by ${escapeHtml(POD)}.</p>` : '';
  const doneJs =
    VERSION === 'v2'
      ? `const box = document.createElement('input'); box.type = 'checkbox'; box.checked = t.done;
         box.onchange = () => fetch('/todos/' + t.id + '/done', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ done: box.checked }) }).then(load);
         li.prepend(box);`
      : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(TITLE)}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}.banner{background:#e6f4ea;padding:.5em}small{color:#777}</style></head>
<body><h1>${escapeHtml(TITLE)}</h1>${banner}<p>${escapeHtml(welcomeText())}</p>
<form id="f"><input name="text" size="40" autofocus> <button>Add</button></form>
<ul id="list"></ul><small id="meta"></small>
<script>
async function load() {
  const r = await (await fetch('/todos')).json();
  const ul = document.getElementById('list'); ul.innerHTML = '';
  for (const t of r.todos) { const li = document.createElement('li'); li.textContent = ' ' + t.text; ${doneJs} ul.append(li); }
  document.getElementById('meta').textContent = r.version + ' on ' + r.pod + ', read from the ' + r.readFrom;
}
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault(); const text = e.target.text.value; e.target.text.value = '';
  await fetch('/todos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) }); load();
};
load();
</script></body></html>`;
}

let draining = false;

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : body;
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(text) };
  if (draining) headers.connection = 'close';
  res.writeHead(status, headers).end(text);
}

async function route(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/healthz') {
    if (draining) return send(res, 503, 'shutting down\n', 'text/plain');
    await master.command('PING');
    return send(res, 200, 'ok\n', 'text/plain');
  }
  if (path === '/version') return send(res, 200, { version: VERSION, pod: POD });
  if (path === '/' && req.method === 'GET') return send(res, 200, page(), 'text/html; charset=utf-8');
  if (path === '/todos') {
    if (req.method === 'GET') return send(res, 200, { version: VERSION, pod: POD, ...(await listTodos()) });
    if (req.method === 'POST') {
      const { text } = await bodyFields(req);
      if (typeof text !== 'string' || text.trim() === '') throw new HttpError(400, 'text: required (a non-empty string)');
      if (text.length > MAX_TODO_LENGTH) throw new HttpError(400, `text: at most ${MAX_TODO_LENGTH} characters (got ${text.length})`);
      return send(res, 201, { version: VERSION, pod: POD, todo: await addTodo(text.trim()) });
    }
    if (req.method === 'DELETE') {
      const token = process.env.ADMIN_TOKEN;
      if (!token) throw new HttpError(403, 'deleting is disabled: no ADMIN_TOKEN is set');
      if (req.headers.authorization !== `Bearer ${token}`) throw new HttpError(401, 'Authorization: Bearer <ADMIN_TOKEN> required');
      return send(res, 200, { deleted: await clearTodos() });
    }
    throw new HttpError(405, `${req.method} not allowed on /todos`);
  }
  const done = /^\/todos\/(\d+)\/done$/.exec(path);
  if (done && VERSION === 'v2' && req.method === 'POST') {
    const fields = await bodyFields(req);
    const todo = await setDone(done[1], fields.done !== false && fields.done !== 'false');
    if (!todo) throw new HttpError(404, `no to-do ${done[1]}`);
    return send(res, 200, { version: VERSION, pod: POD, todo });
  }
  throw new HttpError(404, `no route for ${req.method} ${path}`);
}

const inFlight = new Set();
const server = createServer((req, res) => {
  const p = route(req, res).catch((err) => {
    const status = err instanceof HttpError ? err.status : 503;
    if (!(err instanceof HttpError)) console.log(`${req.method} ${req.url}: ${err.message}`);
    if (!res.headersSent) send(res, status, { error: err.message });
  });
  inFlight.add(p);
  p.finally(() => inFlight.delete(p));
});
server.keepAliveTimeout = 5_000;

server.listen(PORT, HOST, () => {
  console.log(`todo ${VERSION}: ${POD} listening on http://${HOST}:${PORT}; master ${masterAddress.host}:${masterAddress.port}, replica ${replicaAddress ? `${replicaAddress.host}:${replicaAddress.port}` : 'none (reads from the master)'}`);
});

process.on('SIGTERM', () => {
  if (draining) return;
  draining = true;
  console.log(`todo ${VERSION}: SIGTERM, draining for ${DRAIN_MS} ms`);
  setTimeout(() => {
    server.close(async () => {
      await Promise.allSettled([...inFlight]);
      for (const c of [master, replica, ...idleWriters]) c?.close();
      console.log(`todo ${VERSION}: stopped`);
      process.exit(0);
    });
    server.closeIdleConnections();
  }, DRAIN_MS).unref();
  // A connection that never goes idle must not keep the pod alive past its grace period.
  setTimeout(() => process.exit(0), DRAIN_MS + 10_000).unref();
});
