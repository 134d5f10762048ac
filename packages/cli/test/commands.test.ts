// The kv, lease and cluster commands in-process against fake masters.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCluster, refusedEndpoint } from '../../client/test/fake-server.js';
import { CliHarness, waitFor } from './harness.js';

let fake: FakeCluster;
let cli: CliHarness;
let server: string[];

beforeEach(async () => {
  fake = new FakeCluster(['m1', 'm2']);
  await fake.start();
  fake.state.leader = 'm1';
  cli = new CliHarness();
  server = ['--server', fake.endpoints.join(',')];
});

afterEach(() => {
  fake.stop();
  cli.cleanup();
});

describe('bramble kv', () => {
  it('put, get (table, json, yaml), del', async () => {
    expect(await cli.run([...server, 'kv', 'put', 'a/1', 'one'])).toEqual({ code: 0, stdout: 'OK\n', stderr: '' });
    await cli.run([...server, 'kv', 'put', 'a/2', 'two\nlines']);
    const table = await cli.run([...server, 'kv', 'get', 'a/', '--prefix']);
    expect(table.stdout).toBe(
      ['KEY   VALUE        CREATE-REV   MOD-REV   VERSION   LEASE', 'a/1   one          2            2         1         <none>', 'a/2   two\\nlines   3            3         1         <none>', ''].join('\n'),
    );
    const json = JSON.parse((await cli.run([...server, '-o', 'json', 'kv', 'get', 'a/1'])).stdout);
    expect(json).toMatchObject({ kvs: [{ key: 'a/1', value: 'one', createRevision: 2, modRevision: 2, version: 1, lease: 0 }], more: false, count: 1 });
    expect(json.header).toMatchObject({ member: 'm1', leader: 'm1' });
    // Global options may follow the subcommand too.
    const yaml = (await cli.run(['kv', 'get', 'a/2', '-o', 'yaml', ...server])).stdout;
    expect(yaml).toContain('value: |-\n      two\n      lines');
    expect((await cli.run([...server, 'kv', 'get', 'a/', '--prefix', '--count-only'])).stdout).toBe('COUNT\n2\n');
    const limited = await cli.run([...server, 'kv', 'get', 'a/', '--prefix', '--limit', '1', '--keys-only']);
    expect(limited.stdout).toBe('KEY   CREATE-REV   MOD-REV   VERSION   LEASE\na/1   2            2         1         <none>\n');
    expect(limited.stderr).toBe('(1 more of 2 keys not shown; raise --limit)\n');

    expect(await cli.run([...server, 'kv', 'get', 'nope'])).toEqual({ code: 0, stdout: '', stderr: 'No keys found.\n' });
    expect((await cli.run([...server, 'kv', 'del', 'a/', '--prefix'])).stdout).toBe('2 keys deleted\n');
    expect((await cli.run([...server, 'kv', 'del', 'a/1'])).stdout).toBe('0 keys deleted\n');
  });

  it('put --prev-kv prints the previous value', async () => {
    await cli.run([...server, 'kv', 'put', 'k', 'v1']);
    expect((await cli.run([...server, 'kv', 'put', 'k', 'v2', '--prev-kv'])).stdout).toBe(
      'OK\nKEY   VALUE   CREATE-REV   MOD-REV   VERSION   LEASE\nk     v1      2            2         1         <none>\n',
    );
  });

  it('txn from stdin and from --file; a parse error names the source and the line', async () => {
    await cli.run([...server, 'kv', 'put', 'k', 'v1']);
    const input = 'value("k") = "v1"\n\nput k v2\nget k\n\nput k other\n';
    const r = await cli.run([...server, 'kv', 'txn'], { stdin: input });
    expect(r).toEqual({
      code: 0,
      stdout: 'SUCCESS\n\nOK\n\nKEY   VALUE   CREATE-REV   MOD-REV   VERSION   LEASE\nk     v2      2            3         2         <none>\n',
      stderr: '',
    });
    const file = join(cli.home, 'txn.txt');
    writeFileSync(file, input);
    const again = JSON.parse((await cli.run([...server, '-o', 'json', 'kv', 'txn', '--file', file])).stdout);
    expect(again.succeeded).toBe(false);
    expect(again.responses).toEqual([{ put: { header: expect.any(Object) } }]);

    expect(await cli.run([...server, 'kv', 'txn'], { stdin: 'mod("k") >> 1\n' })).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: parse txn from stdin: line 1: expected an operator (=, !=, <, >) after mod("k"), got ">> 1"\n',
    });
    const missing = join(cli.home, 'missing.txt');
    const r2 = await cli.run([...server, 'kv', 'txn', '-f', missing]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toBe(`error: read txn from file ${JSON.stringify(missing)}: ENOENT: no such file or directory, open '${missing}'\n`);
  });

  it('watch prints events as they come until Ctrl-C; -o json prints one object per line', async () => {
    let out = '';
    const running = cli.run([...server, 'kv', 'watch', 'w/', '--prefix', '-o', 'json'], { onStdout: (all) => (out = all) });
    // The fake subscribes the watch as it handles the create request.
    await waitFor('the watch to be created', () => cli.interruptible && fake.masters.some((m) => m.watchStarts.length > 0));
    fake.state.put('w/a', '1');
    fake.state.put('x', 'ignored');
    fake.state.commit([{ key: 'w/a', delete: true }]);
    await waitFor('two events', () => out.split('\n').length >= 3);
    cli.interrupt();
    const r = await running;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { type: 'PUT', kv: { key: 'w/a', value: '1', createRevision: 2, modRevision: 2, version: 1, lease: 0 } },
      { type: 'DELETE', kv: { key: 'w/a', createRevision: 0, modRevision: 4, version: 0, lease: 0 } },
    ]);
  });

  it('compact', async () => {
    expect((await cli.run([...server, 'kv', 'compact', '5'])).stdout).toBe('compacted revision 5\n');
    expect(fake.state.compactRevision).toBe(5);
  });

  it('rejects bad numbers as usage errors (exit 2)', async () => {
    expect(await cli.run([...server, 'kv', 'get', 'k', '--limit', '-1'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "error: option '--limit <n>' argument '-1' is invalid. expected a non-negative integer.\n",
    });
    expect((await cli.run([...server, 'kv', 'compact', '0'])).code).toBe(2);
    expect((await cli.run([...server, 'lease', 'revoke', 'xyz'])).stderr).toBe(
      "error: command-argument value 'xyz' is invalid for argument 'id'. expected a lease ID: a positive integer (decimal, or hex with 0x).\n",
    );
  });
});

describe('errors', () => {
  it('prints one line naming the operation and the reason, exit 1, when no master answers', async () => {
    const down = await refusedEndpoint();
    const r = await cli.run(['--server', down, '--timeout', '300ms', 'kv', 'put', 'k', 'v']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: put "k": UNAVAILABLE: ${down}: no connection: connect ECONNREFUSED ${down} \\(\\d+ attempts in \\d+ ms\\)\\n$`));
  });

  it('reports an unknown write outcome as such', async () => {
    fake.masters[0].mode = 'unavailable';
    const r = await cli.run([...server, 'kv', 'put', 'k', 'v']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: put "k": UNKNOWN_OUTCOME: sent to ${fake.endpoints[0]} but no answer came back (UNAVAILABLE: fake m1: no leader); it may or may not have been applied, so it was not repeated\n`,
    );
  });

  it('reports a server rejection with its code', async () => {
    const r = await cli.run([...server, 'lease', 'revoke', '77']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: revoke lease 77: NOT_FOUND: lease 77 not found\n' });
  });
});

describe('bramble lease', () => {
  it('grant, timetolive --keys, revoke', async () => {
    expect((await cli.run([...server, 'lease', 'grant', '60'])).stdout).toBe('lease 1000 granted with TTL(60s)\n');
    await cli.run([...server, 'kv', 'put', 'leased', 'v', '--lease', '1000']);
    expect((await cli.run([...server, 'lease', 'timetolive', '1000', '--keys'])).stdout).toBe('ID     TTL   GRANTED-TTL   KEYS\n1000   60s   60s           leased\n');
    expect(JSON.parse((await cli.run([...server, '-o', 'json', 'lease', 'grant', '2m'])).stdout)).toMatchObject({ id: 1001, ttl: 120 });
    expect((await cli.run([...server, 'lease', 'revoke', '0x3e8'])).stdout).toBe('lease 1000 revoked\n');
    expect((await cli.run([...server, 'lease', 'timetolive', '1000'])).stdout).toBe('ID     TTL       GRANTED-TTL\n1000   expired\n');
  });

  it('keep-alive renews until Ctrl-C', async () => {
    await cli.run([...server, 'lease', 'grant', '60']);
    let out = '';
    const running = cli.run([...server, 'lease', 'keep-alive', '1000'], { onStdout: (all) => (out = all) });
    await waitFor('a renewal', () => out.includes('keepalived'));
    cli.interrupt();
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('lease 1000 keepalived with TTL(60)');
  });
});

describe('bramble cluster', () => {
  it('status: a row per endpoint; an unreachable one makes the command fail after printing', async () => {
    const ok = await cli.run([...server, 'cluster', 'status']);
    expect(ok.code).toBe(0);
    const [a, b] = fake.endpoints;
    expect(ok.stdout).toBe(
      [
        'ENDPOINT          MEMBER   ROLE       LEADER   TERM   COMMIT   APPLIED   REVISION   ERRORS',
        `${a}   m1       leader     m1       2      10       10        1`,
        `${b}   m2       follower   m1       2      10       10        1`,
        '',
      ].join('\n'),
    );
    const down = await refusedEndpoint();
    const r = await cli.run(['--server', `${a},${down}`, 'cluster', 'status']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[2]).toMatch(new RegExp(`^${down}\\s+UNAVAILABLE: no connection: connect ECONNREFUSED ${down}$`));
    expect(r.stderr).toBe(`error: cluster status: 1 of 2 endpoints did not answer (${down})\n`);
  });

  it('members', async () => {
    const r = await cli.run([...server, 'cluster', 'members']);
    const [a, b] = fake.endpoints;
    expect(r.stdout).toBe(
      ['NAME   ADDRESS           HTTP     ROLE    IS-LEADER', `m1     ${a}   <none>   voter   true`, `m2     ${b}   <none>   voter   false`, ''].join('\n'),
    );
  });
});
