import { describe, expect, it } from 'vitest';
import { KeyValue } from '@bramble/client';
import { cell, displayBytes, formatTable, kvView, toJson, toYaml } from '../src/output.js';
import { membersTable, statusTable } from '../src/commands/cluster.js';
import { kvTable } from '../src/commands/kv.js';

describe('formatTable', () => {
  it('uppercases headers, pads columns to the widest cell, separates them by three spaces, trims line ends', () => {
    expect(formatTable(['name', 'Role', 'x'], [['m1', 'leader', ''], ['member-2', 'follower', 'y']])).toBe(
      ['NAME       ROLE       X', 'm1         leader', 'member-2   follower   y', ''].join('\n'),
    );
  });

  it('prints just the header for no rows', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A   B\n');
  });

  it('keeps every row on one line: control characters are escaped', () => {
    expect(cell('a\nb\tc\rd\u0001')).toBe('a\\nb\\tc\\rd\\x01');
    expect(formatTable(['K', 'V'], [['k', 'two\nlines']])).toBe('K   V\nk   two\\nlines\n');
  });

  it('measures width in characters, not UTF-16 units', () => {
    expect(formatTable(['KEY', 'V'], [['𝑥', 'x']])).toBe('KEY   V\n𝑥     x\n');
  });
});

describe('bytes in output', () => {
  it('shows valid UTF-8 as text and invalid bytes as \\xNN', () => {
    expect(displayBytes(Buffer.from('héllo'))).toBe('héllo');
    expect(displayBytes(Buffer.from([0x61, 0xff, 0x00]))).toBe('a\\xff\\x00');
  });

  it('gives JSON views key/value as text, or keyBase64/valueBase64 when not UTF-8', () => {
    const kv = new KeyValue(Buffer.from('k'), Buffer.from([0xff]), 2, 3, 1, 0);
    expect(kvView(kv)).toEqual({ key: 'k', valueBase64: '/w==', createRevision: 2, modRevision: 3, version: 1, lease: 0 });
    expect(JSON.parse(toJson({ kv: kvView(kv) }))).toEqual({ kv: { key: 'k', valueBase64: '/w==', createRevision: 2, modRevision: 3, version: 1, lease: 0 } });
    expect(toYaml(kvView(kv, { keysOnly: true }))).toBe('key: k\ncreateRevision: 2\nmodRevision: 3\nversion: 1\nlease: 0\n');
  });
});

describe('command tables', () => {
  it('kv table', () => {
    const kvs = [new KeyValue(Buffer.from('a'), Buffer.from('1'), 2, 5, 3, 0), new KeyValue(Buffer.from('bb'), Buffer.from('two'), 4, 4, 1, 1001)];
    expect(kvTable(kvs)).toBe(
      ['KEY   VALUE   CREATE-REV   MOD-REV   VERSION   LEASE', 'a     1       2            5         3         <none>', 'bb    two     4            4         1         1001', ''].join('\n'),
    );
  });

  it('cluster status table: one row per endpoint, an unreachable one with only its error', () => {
    const status = {
      clusterId: 'c',
      member: 'm1',
      leader: 'm1',
      term: 3,
      role: 'leader',
      commitIndex: 42,
      appliedIndex: 42,
      revision: 17,
      lastIndex: 42,
      snapshotIndex: 0,
      version: '0.1.0',
      errors: [],
    };
    const err = Object.assign(new Error('status of 127.0.0.1:7002: UNAVAILABLE: no connection: connect ECONNREFUSED 127.0.0.1:7002'), {
      code: 'UNAVAILABLE',
      details: 'no connection: connect ECONNREFUSED 127.0.0.1:7002',
    });
    expect(statusTable([{ endpoint: '127.0.0.1:7001', status }, { endpoint: '127.0.0.1:7002', error: err }])).toBe(
      [
        'ENDPOINT         MEMBER   ROLE     LEADER   TERM   COMMIT   APPLIED   REVISION   ERRORS',
        '127.0.0.1:7001   m1       leader   m1       3      42       42        17',
        '127.0.0.1:7002                                                                   UNAVAILABLE: no connection: connect ECONNREFUSED 127.0.0.1:7002',
        '',
      ].join('\n'),
    );
  });

  it('members table', () => {
    const members = [
      { name: 'm1', address: '127.0.0.1:7001', httpAddress: '127.0.0.1:8001', isLearner: false },
      { name: 'm4', address: '127.0.0.1:7004', httpAddress: '', isLearner: true },
    ];
    expect(membersTable(members, 'm1')).toBe(
      [
        'NAME   ADDRESS          HTTP             ROLE      IS-LEADER',
        'm1     127.0.0.1:7001   127.0.0.1:8001   voter     true',
        'm4     127.0.0.1:7004   <none>           learner   false',
        '',
      ].join('\n'),
    );
  });
});
