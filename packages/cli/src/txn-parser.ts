// etcdctl's txn input format:
//
//   mod("key1") > "0"            <- comparisons, one per line
//   value("key2") = "x"
//                                <- blank line
//   put key1 "overwrote-key1"    <- success operations
//                                <- blank line
//   put key1 "created-key1"      <- failure operations
//
// Comparisons: <target>("<key>") <op> <value> with target version|ver, create|c,
// mod|m, value|val, lease; op =, !=, <, >; the value quoted or bare. Operations:
// put KEY VALUE [--lease=ID] [--prev-kv] | get KEY [--prefix] [--limit=N] [--rev=N]
// [--keys-only] [--count-only] | del KEY [--prefix] [--prev-kv]. Strings are quoted
// with "..." (escapes \" \\ \n \t \r \xNN) or '...' (literal). Lines starting with
// '#' are comments. Every error names the line and what was expected there.
import type { CompareOp, CompareSpec, CompareTarget, OpSpec, TxnSpec } from '@bramble/client';

export class TxnParseError extends Error {
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
    this.name = 'TxnParseError';
  }
}

const TARGETS: Record<string, CompareTarget> = {
  version: 'version',
  ver: 'version',
  create: 'create',
  c: 'create',
  mod: 'mod',
  m: 'mod',
  value: 'value',
  val: 'value',
  lease: 'lease',
};

const SECTIONS = ['comparison', 'success operation', 'failure operation'] as const;
const EXAMPLE = 'mod("key") > "5"';

export function parseTxn(text: string): TxnSpec {
  const txn: TxnSpec = { compare: [], success: [], failure: [] };
  let section = 0;
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      section++;
      return;
    }
    if (line.trim().startsWith('#')) return;
    if (section >= SECTIONS.length) {
      throw new TxnParseError(
        lineNo,
        `unexpected ${JSON.stringify(line.trim())} after the failure operations (a txn is: comparisons, blank line, success operations, blank line, failure operations)`,
      );
    }
    if (section === 0) txn.compare.push(parseCompare(line, lineNo));
    else (section === 1 ? txn.success : txn.failure).push(parseOp(line, lineNo));
  });
  return txn;
}

/** A cursor over one line, for error messages that say where parsing stopped. */
class Cursor {
  pos = 0;

  constructor(
    readonly text: string,
    readonly lineNo: number,
  ) {}

  skipSpaces(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  rest(): string {
    return this.text.slice(this.pos);
  }

  atEnd(): boolean {
    this.skipSpaces();
    return this.pos >= this.text.length;
  }

  fail(detail: string): never {
    throw new TxnParseError(this.lineNo, detail);
  }

  /** What comes next, for "got ..." in messages. */
  next(): string {
    const r = this.rest().trim();
    return r === '' ? 'end of line' : JSON.stringify(r.length > 20 ? `${r.slice(0, 20)}...` : r);
  }

  /** A "..." or '...' string at the cursor, or undefined when there is none. */
  quoted(): string | undefined {
    this.skipSpaces();
    const q = this.text[this.pos];
    if (q !== '"' && q !== "'") return undefined;
    const startCol = this.pos + 1;
    let out = '';
    this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++];
      if (c === q) return out;
      if (c === '\\' && q === '"') {
        const e = this.text[this.pos++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '"':
          case '\\':
            out += e;
            break;
          case 'x': {
            const hex = this.text.slice(this.pos, this.pos + 2);
            if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail(`bad escape \\x${hex} in the string starting at column ${startCol}: expected two hex digits`);
            out += String.fromCharCode(parseInt(hex, 16));
            this.pos += 2;
            break;
          }
          case undefined:
            this.fail(`unterminated string starting at column ${startCol}: expected a closing "`);
            break;
          default:
            this.fail(`unknown escape \\${e} in the string starting at column ${startCol}: expected one of \\" \\\\ \\n \\t \\r \\xNN`);
        }
        continue;
      }
      out += c;
    }
    return this.fail(`unterminated string starting at column ${startCol}: expected a closing ${q}`);
  }

  /** A quoted string or a bare word up to the next space; undefined at end of line. */
  word(): string | undefined {
    const q = this.quoted();
    if (q !== undefined) return q;
    this.skipSpaces();
    if (this.pos >= this.text.length) return undefined;
    const start = this.pos;
    while (this.pos < this.text.length && !/\s/.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

function parseCompare(line: string, lineNo: number): CompareSpec {
  const c: Cursor = new Cursor(line, lineNo);
  c.skipSpaces();
  const target = /^([A-Za-z]+)\s*\(/.exec(c.rest());
  if (!target) c.fail(`expected a comparison like ${EXAMPLE}, got ${c.next()}`);
  const name = target[1];
  const t = TARGETS[name.toLowerCase()];
  if (!t) c.fail(`unknown comparison target ${JSON.stringify(name)}: expected version, create, mod, value or lease`);
  c.pos += target[0].length;
  const key = c.quoted();
  if (key === undefined) c.fail(`expected the key as a quoted string after ${name}(, got ${c.next()}`);
  c.skipSpaces();
  if (c.text[c.pos] !== ')') c.fail(`expected ")" after the key in ${name}("${key}", got ${c.next()}`);
  c.pos++;
  c.skipSpaces();
  const what = `${name}(${JSON.stringify(key)})`;
  const opMatch = /^(!=|=|<|>)(?![=<>!])/.exec(c.rest());
  if (!opMatch) c.fail(`expected an operator (=, !=, <, >) after ${what}, got ${c.next()}`);
  const op = opMatch[1] as CompareOp;
  c.pos += op.length;
  const raw = c.word();
  if (raw === undefined) c.fail(`expected a value after ${what} ${op}`);
  if (!c.atEnd()) c.fail(`unexpected ${c.next()} after the comparison ${what} ${op} ${JSON.stringify(raw)}`);
  if (t === 'value') return { key, target: t, op, value: raw };
  const n = parseInteger(raw);
  if (n === undefined) {
    const kind = t === 'version' ? 'a version' : t === 'lease' ? 'a lease ID' : 'a revision';
    c.fail(`${what} compares ${kind}: expected an integer, got ${JSON.stringify(raw)}`);
  }
  return { key, target: t, op, value: n };
}

/** A non-negative decimal integer, or 0x-prefixed hex; undefined otherwise. */
export function parseInteger(s: string): number | undefined {
  const t = s.trim();
  let n: number;
  if (/^\d+$/.test(t)) n = Number(t);
  else if (/^0x[0-9a-fA-F]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

interface FlagSpec {
  name: string;
  /** Takes a value: --name=V or --name V. */
  value?: boolean;
}

const OP_FLAGS: Record<'put' | 'get' | 'del', FlagSpec[]> = {
  put: [{ name: 'lease', value: true }, { name: 'prev-kv' }],
  get: [{ name: 'prefix' }, { name: 'limit', value: true }, { name: 'rev', value: true }, { name: 'keys-only' }, { name: 'count-only' }],
  del: [{ name: 'prefix' }, { name: 'prev-kv' }],
};

const OP_NAMES: Record<string, 'put' | 'get' | 'del'> = { put: 'put', get: 'get', del: 'del', delete: 'del' };

function listFlags(flags: FlagSpec[]): string {
  const names = flags.map((f) => `--${f.name}`);
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

function parseOp(line: string, lineNo: number): OpSpec {
  const c: Cursor = new Cursor(line, lineNo);
  c.skipSpaces();
  const verbMatch = /^\S+/.exec(c.rest());
  const verb = verbMatch ? verbMatch[0] : '';
  const kind = OP_NAMES[verb];
  if (!kind) c.fail(`unknown operation ${JSON.stringify(verb)}: expected put, get or del`);
  c.pos += verb.length;
  const args: string[] = [];
  const flags = new Map<string, string | true>();
  const specs = OP_FLAGS[kind];
  for (;;) {
    c.skipSpaces();
    const isFlag = c.text.startsWith('--', c.pos);
    const w = c.word();
    if (w === undefined) break;
    if (!isFlag) {
      args.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const name = eq >= 0 ? w.slice(2, eq) : w.slice(2);
    const spec = specs.find((f) => f.name === name);
    if (!spec) c.fail(`unknown flag ${JSON.stringify(`--${name}`)} for ${kind}: expected ${listFlags(specs)}`);
    if (spec.value) {
      const v = eq >= 0 ? w.slice(eq + 1) : c.word();
      if (v === undefined || v === '') c.fail(`flag --${name} of ${kind} needs a value`);
      flags.set(name, v);
    } else {
      if (eq >= 0) c.fail(`flag --${name} of ${kind} takes no value (got ${JSON.stringify(w)})`);
      flags.set(name, true);
    }
  }
  const want = kind === 'put' ? 2 : 1;
  if (args.length !== want) {
    const needs = kind === 'put' ? 'a key and a value' : 'one key';
    c.fail(`${kind} takes ${needs} (got ${args.length} argument${args.length === 1 ? '' : 's'})`);
  }
  const int = (flag: string): number | undefined => {
    const v = flags.get(flag);
    if (v === undefined) return undefined;
    const n = parseInteger(String(v));
    if (n === undefined) c.fail(`flag --${flag} of ${kind}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const key = args[0];
  switch (kind) {
    case 'put': {
      const lease = int('lease');
      return { type: 'put', key, value: args[1], ...(lease !== undefined ? { lease } : {}), ...(flags.has('prev-kv') ? { prevKv: true } : {}) };
    }
    case 'get': {
      const limit = int('limit');
      const revision = int('rev');
      return {
        type: 'get',
        key,
        ...(flags.has('prefix') ? { prefix: true } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(revision !== undefined ? { revision } : {}),
        ...(flags.has('keys-only') ? { keysOnly: true } : {}),
        ...(flags.has('count-only') ? { countOnly: true } : {}),
      };
    }
    default:
      return { type: 'delete', key, ...(flags.has('prefix') ? { prefix: true } : {}), ...(flags.has('prev-kv') ? { prevKv: true } : {}) };
  }
}
