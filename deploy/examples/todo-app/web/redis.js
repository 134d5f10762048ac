// A minimal Redis client (RESP2) with no dependencies: one TCP connection, commands
// pipelined in order, replies matched first-in first-out.
//
//   const redis = new RedisClient({ host: '127.0.0.1', port: 6379 });
//   await redis.command('SET', 'k', 'v');          // 'OK'
//   await redis.command('GET', 'k');               // 'v' (null when absent)
//   redis.close();
//
// Replies: simple strings and bulk strings -> string (null for nil), integers -> number,
// arrays -> arrays (null for a nil array), error replies -> a rejected RedisError.
// The connection is opened on first use and again after it drops; a command whose
// connection drops (or that gets no reply within commandTimeoutMs) is rejected, never
// silently retried: the caller decides (a write may or may not have happened).
import { createConnection } from 'node:net';

export class RedisError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RedisError';
  }
}

const CRLF = '\r\n';

/** `*<n>\r\n$<len>\r\n<arg>\r\n...`: every argument sent as a bulk string. */
export function encodeCommand(args) {
  const parts = [`*${args.length}${CRLF}`];
  for (const arg of args) {
    const s = typeof arg === 'string' ? arg : Buffer.isBuffer(arg) ? arg : String(arg);
    parts.push(`$${Buffer.byteLength(s)}${CRLF}`, s, CRLF);
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8'))));
}

const INCOMPLETE = Symbol('incomplete');

/**
 * Parses one reply at `offset`. Returns { value, next } or INCOMPLETE when the buffer
 * does not hold the whole reply yet. Error replies come back as RedisError values.
 */
export function parseReply(buf, offset = 0) {
  if (offset >= buf.length) return INCOMPLETE;
  const end = buf.indexOf(CRLF, offset);
  if (end === -1) return INCOMPLETE;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, end);
  const next = end + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new RedisError(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const len = Number(line);
      if (len === -1) return { value: null, next };
      if (buf.length < next + len + 2) return INCOMPLETE;
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, next };
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, at);
        if (r === INCOMPLETE) return INCOMPLETE;
        items.push(r.value);
        at = r.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new RedisError(`protocol error: unexpected reply type ${JSON.stringify(type)}`);
  }
}

export class RedisClient {
  /**
   * @param {{ host: string, port: number, name?: string, connectTimeoutMs?: number, commandTimeoutMs?: number }} options
   */
  constructor(options) {
    if (!options || !options.host || !Number.isInteger(options.port) || options.port <= 0) {
      throw new Error(`RedisClient: host and a positive integer port are required (got ${JSON.stringify(options)})`);
    }
    this.host = options.host;
    this.port = options.port;
    this.name = options.name ?? `${options.host}:${options.port}`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
    this.socket = undefined;
    this.pending = [];
    this.buffer = Buffer.alloc(0);
    this.closed = false;
  }

  /** Sends a command; resolves with its reply. */
  command(...args) {
    if (this.closed) return Promise.reject(new RedisError(`redis ${this.name}: client closed`));
    if (args.length === 0) return Promise.reject(new RedisError('redis: empty command'));
    return new Promise((resolve, reject) => {
      const socket = this.connect();
      const entry = { resolve, reject, socket, timer: undefined };
      entry.timer = setTimeout(() => this.fail(socket, new RedisError(`redis ${this.name}: no reply to ${args[0]} within ${this.commandTimeoutMs} ms`)), this.commandTimeoutMs);
      this.pending.push(entry);
      socket.write(encodeCommand(args));
    });
  }

  /** Sends several commands at once (one write); resolves with every reply, errors included as values. */
  async pipeline(commands) {
    return Promise.all(commands.map((c) => this.command(...c).catch((err) => err)));
  }

  close() {
    this.closed = true;
    if (this.socket) this.fail(this.socket, new RedisError(`redis ${this.name}: client closed`));
  }

  connect() {
    if (this.socket) return this.socket;
    const socket = createConnection({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    const connectTimer = setTimeout(() => this.fail(socket, new RedisError(`redis ${this.name}: connect timed out after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    socket.once('connect', () => clearTimeout(connectTimer));
    socket.on('data', (chunk) => this.onData(socket, chunk));
    socket.on('error', (err) => this.fail(socket, new RedisError(`redis ${this.name}: ${err.message}`)));
    socket.on('close', () => {
      clearTimeout(connectTimer);
      this.fail(socket, new RedisError(`redis ${this.name}: connection closed`));
    });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    return socket;
  }

  onData(socket, chunk) {
    if (socket !== this.socket) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      let r;
      try {
        r = parseReply(this.buffer, offset);
      } catch (err) {
        this.fail(socket, err);
        return;
      }
      if (r === INCOMPLETE) break;
      offset = r.next;
      const entry = this.pending.shift();
      if (!entry) {
        this.fail(socket, new RedisError(`redis ${this.name}: a reply nobody asked for`));
        return;
      }
      clearTimeout(entry.timer);
      if (r.value instanceof RedisError) entry.reject(r.value);
      else entry.resolve(r.value);
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  /** The connection is unusable: reject everything sent on it and forget it. */
  fail(socket, err) {
    if (this.socket === socket) {
      this.socket = undefined;
      this.buffer = Buffer.alloc(0);
    }
    socket.destroy();
    const mine = this.pending.filter((e) => e.socket === socket);
    this.pending = this.pending.filter((e) => e.socket !== socket);
    for (const e of mine) {
      clearTimeout(e.timer);
      e.reject(err);
    }
  }
}

/** `INFO <section>` as an object of its `key:value` lines. */
export async function info(client, section) {
  const text = await client.command('INFO', section);
  const out = {};
  for (const line of String(text).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
