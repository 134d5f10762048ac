import { describe, expect, it } from 'vitest';
import { parseTxn, TxnParseError } from '../src/txn-parser.js';

function parseError(text: string): string {
  try {
    parseTxn(text);
  } catch (err) {
    expect(err).toBeInstanceOf(TxnParseError);
    return (err as Error).message;
  }
  throw new Error('expected a parse error');
}

describe('parseTxn: good input', () => {
  it("reads etcdctl's example: comparisons, success ops, failure ops", () => {
    const t = parseTxn(['mod("key1") > "0"', '', 'put key1 "overwrote-key1"', '', 'put key1 "created-key1"', 'put key2 "some extra key"', ''].join('\n'));
    expect(t).toEqual({
      compare: [{ key: 'key1', target: 'mod', op: '>', value: 0 }],
      success: [{ type: 'put', key: 'key1', value: 'overwrote-key1' }],
      failure: [
        { type: 'put', key: 'key1', value: 'created-key1' },
        { type: 'put', key: 'key2', value: 'some extra key' },
      ],
    });
  });

  it('reads every comparison target, short names, operators and bare or quoted values', () => {
    const t = parseTxn(
      ['value("k") = "v"', 'val("k") != v2', 'version("k") = "0"', 'ver("k") < 3', 'create("k") = "0"', 'c("k") > 0x10', 'm("k") > 5', 'lease("k") = "0"', ''].join('\n'),
    );
    expect(t.compare).toEqual([
      { key: 'k', target: 'value', op: '=', value: 'v' },
      { key: 'k', target: 'value', op: '!=', value: 'v2' },
      { key: 'k', target: 'version', op: '=', value: 0 },
      { key: 'k', target: 'version', op: '<', value: 3 },
      { key: 'k', target: 'create', op: '=', value: 0 },
      { key: 'k', target: 'create', op: '>', value: 16 },
      { key: 'k', target: 'mod', op: '>', value: 5 },
      { key: 'k', target: 'lease', op: '=', value: 0 },
    ]);
    expect(t.success).toEqual([]);
  });

  it('reads get/put/del with flags, escapes, single quotes, CRLF and comments', () => {
    const t = parseTxn(
      [
        '# only when k is new',
        'version("a b") = "0"',
        '',
        'put "a b" "line1\\nline2 \\"q\\" \\x41" --lease=1234 --prev-kv',
        "put k 'single \"quoted\" \\n'",
        'get p --prefix --limit 10 --rev=3 --keys-only',
        'get c --count-only',
        'del d --prefix --prev-kv',
        'delete e',
        '',
        'get a',
      ].join('\r\n'),
    );
    expect(t.compare).toEqual([{ key: 'a b', target: 'version', op: '=', value: 0 }]);
    expect(t.success).toEqual([
      { type: 'put', key: 'a b', value: 'line1\nline2 "q" A', lease: 1234, prevKv: true },
      { type: 'put', key: 'k', value: 'single "quoted" \\n' },
      { type: 'get', key: 'p', prefix: true, limit: 10, revision: 3, keysOnly: true },
      { type: 'get', key: 'c', countOnly: true },
      { type: 'delete', key: 'd', prefix: true, prevKv: true },
      { type: 'delete', key: 'e' },
    ]);
    expect(t.failure).toEqual([{ type: 'get', key: 'a' }]);
  });

  it('allows empty sections and trailing blank lines', () => {
    expect(parseTxn('\n\nput k v\n\n\n')).toEqual({ compare: [], success: [], failure: [{ type: 'put', key: 'k', value: 'v' }] });
    expect(parseTxn('')).toEqual({ compare: [], success: [], failure: [] });
  });
});

describe('parseTxn: errors name the line and what was expected', () => {
  it.each([
    ['put k v', 'line 1: expected a comparison like mod("key") > "5", got "put k v"'],
    ['modd("k") > "1"', 'line 1: unknown comparison target "modd": expected version, create, mod, value or lease'],
    ['mod(k) > "1"', 'line 1: expected the key as a quoted string after mod(, got "k) > \\"1\\""'],
    ['mod("k" > "1"', 'line 1: expected ")" after the key in mod("k", got "> \\"1\\""'],
    ['mod("k") => "1"', 'line 1: expected an operator (=, !=, <, >) after mod("k"), got "=> \\"1\\""'],
    ['mod("k") == "1"', 'line 1: expected an operator (=, !=, <, >) after mod("k"), got "== \\"1\\""'],
    ['mod("k") >', 'line 1: expected a value after mod("k") >'],
    ['mod("k") > "1" extra', 'line 1: unexpected "extra" after the comparison mod("k") > "1"'],
    ['mod("k") > "abc"', 'line 1: mod("k") compares a revision: expected an integer, got "abc"'],
    ['version("k") = "-1"', 'line 1: version("k") compares a version: expected an integer, got "-1"'],
    ['value("k) = "v"', 'line 1: expected ")" after the key in value("k) = ", got "v\\""'],
    ['value("k") = "v', 'line 1: unterminated string starting at column 14: expected a closing "'],
    ['value("k") = "a\\qb"', 'line 1: unknown escape \\q in the string starting at column 14: expected one of \\" \\\\ \\n \\t \\r \\xNN'],
  ])('comparison %j', (input, message) => {
    expect(parseError(input)).toBe(message);
  });

  it.each([
    ['pt k v', 'line 3: unknown operation "pt": expected put, get or del'],
    ['put k', 'line 3: put takes a key and a value (got 1 argument)'],
    ['put k v w', 'line 3: put takes a key and a value (got 3 arguments)'],
    ['get', 'line 3: get takes one key (got 0 arguments)'],
    ['get k --prefx', 'line 3: unknown flag "--prefx" for get: expected --prefix, --limit, --rev, --keys-only or --count-only'],
    ['get k --limit', 'line 3: flag --limit of get needs a value'],
    ['get k --limit=ten', 'line 3: flag --limit of get: expected a non-negative integer, got "ten"'],
    ['del k --prefix=yes', 'line 3: flag --prefix of del takes no value (got "--prefix=yes")'],
    ['put k "v', 'line 3: unterminated string starting at column 7: expected a closing "'],
  ])('operation %j', (input, message) => {
    expect(parseError(`value("k") = "v"\n\n${input}\n`)).toBe(message);
  });

  it('rejects text after the failure section', () => {
    expect(parseError('\n\nput a b\n\nput c d\n')).toBe(
      'line 5: unexpected "put c d" after the failure operations (a txn is: comparisons, blank line, success operations, blank line, failure operations)',
    );
  });

  it('counts lines from 1 including blank and comment lines', () => {
    const err = (() => {
      try {
        parseTxn('# c\nmod("k") > "1"\n\nput k v\n\nget k --bad\n');
      } catch (e) {
        return e as TxnParseError;
      }
      throw new Error('expected an error');
    })();
    expect(err.line).toBe(6);
  });
});
