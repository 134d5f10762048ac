import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigError, defaultConfigPath, readConfig, resolveTarget, writeContext } from '../src/index.js';
import { CliHarness } from './harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bramble-config-'));
  dirs.push(d);
  return d;
}

const SAMPLE = `apiVersion: bramble/v1
kind: Config
clusters:
  - name: local
    cluster:
      servers: [127.0.0.1:7001, 127.0.0.1:7002]
  - name: pis
    cluster:
      servers: [pi1.lan:7001]
users:
  - name: admin
    user:
      token: t0ken
contexts:
  - name: local
    context:
      cluster: local
  - name: pis
    context:
      cluster: pis
      user: admin
      namespace: prod
current-context: local
`;

function sampleFile(text = SAMPLE): { home: string; path: string } {
  const home = tmp();
  const path = join(home, 'config');
  writeFileSync(path, text);
  return { home, path };
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config file location', () => {
  it('is $BRAMBLE_CONFIG, else ~/.bramble/config', () => {
    expect(defaultConfigPath({}, '/home/u')).toBe('/home/u/.bramble/config');
    expect(defaultConfigPath({ BRAMBLE_CONFIG: '/etc/b.yaml' }, '/home/u')).toBe('/etc/b.yaml');
  });
});

describe('resolveTarget: --server > --context > current-context', () => {
  it('uses current-context by default', () => {
    const { path } = sampleFile();
    expect(resolveTarget({ config: path })).toEqual({ servers: ['127.0.0.1:7001', '127.0.0.1:7002'], context: 'local', source: `context "local" in ${path}` });
  });

  it('uses --context over current-context, with its user token and namespace', () => {
    const { path } = sampleFile();
    expect(resolveTarget({ config: path, context: 'pis' })).toEqual({
      servers: ['pi1.lan:7001'],
      token: 't0ken',
      namespace: 'prod',
      context: 'pis',
      source: `context "pis" in ${path}`,
    });
  });

  it('uses --server over any context but keeps the context credentials', () => {
    const { path } = sampleFile();
    expect(resolveTarget({ config: path, context: 'pis', server: '10.0.0.1:7001, 10.0.0.2:7001' })).toEqual({
      servers: ['10.0.0.1:7001', '10.0.0.2:7001'],
      token: 't0ken',
      namespace: 'prod',
      context: 'pis',
      source: '--server',
    });
  });

  it('finds the file through $BRAMBLE_CONFIG and ~/.bramble/config', () => {
    const { path } = sampleFile();
    expect(resolveTarget({}, { BRAMBLE_CONFIG: path }, '/nonexistent').servers).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    const home = tmp();
    writeContext(join(home, '.bramble', 'config'), { name: 'local', servers: ['127.0.0.1:9'] });
    expect(resolveTarget({}, {}, home).servers).toEqual(['127.0.0.1:9']);
  });

  it('needs no file when --server is given', () => {
    const home = tmp();
    expect(resolveTarget({ server: '127.0.0.1:7001' }, {}, home)).toEqual({ servers: ['127.0.0.1:7001'], source: '--server' });
  });

  it('explains a missing file', () => {
    const home = tmp();
    const path = join(home, '.bramble', 'config');
    expect(configError(() => resolveTarget({}, {}, home))).toBe(
      `no server to talk to: config file ${path} not found; pass --server HOST:PORT, or create a context with "bramble config set-cluster" and "bramble config set-context"`,
    );
    expect(configError(() => resolveTarget({ config: join(home, 'nope') }, {}, home))).toBe(`config ${join(home, 'nope')}: file not found`);
    expect(configError(() => resolveTarget({ context: 'x' }, {}, home))).toBe(`config ${path}: file not found`);
  });

  it('names a missing context, cluster or user', () => {
    const { path } = sampleFile();
    expect(configError(() => resolveTarget({ config: path, context: 'nope' }))).toBe(`config ${path}: context "nope" not found (known: local, pis)`);
    const broken = sampleFile(SAMPLE.replace('cluster: pis\n      user', 'cluster: gone\n      user'));
    expect(configError(() => resolveTarget({ config: broken.path, context: 'pis' }))).toBe(
      `config ${broken.path}: context "pis" names cluster "gone", which is not defined (known: local, pis)`,
    );
    const noUser = sampleFile(SAMPLE.replace('user: admin', 'user: root'));
    expect(configError(() => resolveTarget({ config: noUser.path, context: 'pis' }))).toBe(
      `config ${noUser.path}: context "pis" names user "root", which is not defined (known: admin)`,
    );
  });

  it('asks for a context when none is current', () => {
    const { path } = sampleFile(SAMPLE.replace('current-context: local\n', ''));
    expect(configError(() => resolveTarget({ config: path }))).toBe(
      `config ${path}: no current-context set; pass --context NAME or --server HOST:PORT, or run "bramble config use-context NAME"`,
    );
  });
});

describe('reading a config file', () => {
  it.each([
    ['clusters: {}', 'clusters: must be a list (got a mapping)'],
    ['clusters: [{cluster: {servers: [a:1]}}]', 'clusters[0].name: must be a non-empty string (got nothing)'],
    ['clusters: [{name: a, cluster: {servers: []}}]', 'clusters[0].cluster.servers: must be a non-empty list of HOST:PORT (got a list)'],
    ['clusters: [{name: a, cluster: {servers: [nope]}}]', 'clusters[0].cluster.servers[0]: "nope" is not HOST:PORT'],
    ['clusters: [{name: a, cluster: {servers: [a:1]}}, {name: a, cluster: {servers: [b:1]}}]', 'clusters[1].name: duplicate name (got "a")'],
    ['contexts: [{name: c, context: {user: u}}]', 'contexts[0].context.cluster: must be a non-empty string (got nothing)'],
    ['apiVersion: v1', 'apiVersion: must be bramble/v1 (got "v1")'],
    ['current-context: [a]', 'current-context: must be a string (got a list)'],
  ])('rejects %j', (text, message) => {
    const { path } = sampleFile(text);
    expect(configError(() => readConfig(path))).toBe(`config ${path}: ${message}`);
  });

  it('rejects invalid YAML, naming the file and the position', () => {
    const { path } = sampleFile('clusters: [\n');
    expect(configError(() => readConfig(path))).toMatch(new RegExp(`^config ${path}: invalid YAML: .*line`));
  });

  it('treats an empty file as an empty config', () => {
    const { path } = sampleFile('');
    expect(readConfig(path)).toMatchObject({ clusters: [], contexts: [], users: [] });
  });
});

describe('writeContext (the cluster supervisor writes the local context with it)', () => {
  it('creates the file, directory, cluster and context, and makes it current; mode 0600', () => {
    const path = join(tmp(), 'sub', 'config');
    writeContext(path, { name: 'local', servers: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] });
    expect(YAML.parse(readFileSync(path, 'utf8'))).toEqual({
      apiVersion: 'bramble/v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { servers: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] } }],
      users: [],
      contexts: [{ name: 'local', context: { cluster: 'local' } }],
      'current-context': 'local',
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('updates an existing file, keeping other entries and unknown fields', () => {
    const { path } = sampleFile(SAMPLE.replace('current-context: local', 'current-context: pis\npreferences: {colors: true}'));
    writeContext(path, { name: 'local', servers: ['127.0.0.1:9001'] });
    const cfg = YAML.parse(readFileSync(path, 'utf8'));
    expect(cfg['current-context']).toBe('local');
    expect(cfg.clusters).toEqual([
      { name: 'local', cluster: { servers: ['127.0.0.1:9001'] } },
      { name: 'pis', cluster: { servers: ['pi1.lan:7001'] } },
    ]);
    expect(cfg.users).toEqual([{ name: 'admin', user: { token: 't0ken' } }]);
    expect(cfg.preferences).toEqual({ colors: true });
  });

  it('refuses bad servers', () => {
    expect(() => writeContext(join(tmp(), 'c'), { name: 'x', servers: ['no-port'] })).toThrow('writeContext x: servers[0]: "no-port" is not HOST:PORT');
  });
});

describe('bramble config commands', () => {
  it('set-cluster, set-context, use-context, current-context, get-contexts, view', async () => {
    const cli = new CliHarness();
    try {
      const path = join(cli.home, '.bramble', 'config');
      expect(await cli.run(['config', 'get-contexts'])).toEqual({ code: 0, stdout: '', stderr: `No contexts found in ${path} (file not found).\n` });
      expect((await cli.run(['config', 'set-cluster', 'local', '--server', '127.0.0.1:7001,127.0.0.1:7002'])).stdout).toBe('Cluster "local" set.\n');
      expect((await cli.run(['config', 'set-context', 'local', '--cluster', 'local'])).stdout).toBe('Context "local" created.\n');
      expect((await cli.run(['config', 'set-credentials', 'me', '--token', 'secret'])).stdout).toBe('User "me" set.\n');
      expect((await cli.run(['config', 'set-context', 'pi', '--cluster', 'pis', '--user', 'me'])).stdout).toBe('Context "pi" created.\n');
      expect((await cli.run(['config', 'set-context', 'pi', '--namespace', 'prod'])).stdout).toBe('Context "pi" modified.\n');
      expect(await cli.run(['config', 'current-context'])).toEqual({ code: 1, stdout: '', stderr: `error: config ${path}: current-context is not set\n` });
      expect((await cli.run(['config', 'use-context', 'local'])).stdout).toBe('Switched to context "local".\n');
      expect((await cli.run(['config', 'current-context'])).stdout).toBe('local\n');
      expect((await cli.run(['config', 'get-contexts'])).stdout).toBe(
        ['CURRENT   NAME    CLUSTER   USER   NAMESPACE', '*         local   local', '          pi      pis       me     prod', ''].join('\n'),
      );
      const view = await cli.run(['config', 'view']);
      expect(view.stdout).toContain('token: REDACTED');
      expect((await cli.run(['config', 'view', '--raw'])).stdout).toContain('token: secret');
      expect(JSON.parse((await cli.run(['-o', 'json', 'config', 'view'])).stdout)['current-context']).toBe('local');
    } finally {
      cli.cleanup();
    }
  });

  it('reports bad usage with exit code 2 and a missing context with exit code 1', async () => {
    const cli = new CliHarness();
    try {
      expect(await cli.run(['config', 'set-cluster', 'x'])).toEqual({
        code: 2,
        stdout: '',
        stderr: 'error: config set-cluster x: --server HOST:PORT[,HOST:PORT...] is required\n',
      });
      expect(await cli.run(['config', 'set-context', 'x'])).toEqual({ code: 2, stdout: '', stderr: 'error: set-context x: a new context needs --cluster\n' });
      await cli.run(['config', 'set-cluster', 'a', '--server', '127.0.0.1:1']);
      await cli.run(['config', 'set-context', 'a', '--cluster', 'a']);
      const path = join(cli.home, '.bramble', 'config');
      expect(await cli.run(['config', 'use-context', 'b'])).toEqual({ code: 1, stdout: '', stderr: `error: config ${path}: no context named "b" (known: a)\n` });
      expect(await cli.run(['--context', 'b', 'kv', 'get', 'k'])).toEqual({ code: 1, stdout: '', stderr: `error: config ${path}: context "b" not found (known: a)\n` });
    } finally {
      cli.cleanup();
    }
  });

  it('honours --config and $BRAMBLE_CONFIG', async () => {
    const cli = new CliHarness();
    try {
      const explicit = join(cli.home, 'explicit.yaml');
      await cli.run(['--config', explicit, 'config', 'set-cluster', 'e', '--server', '127.0.0.1:1']);
      expect(YAML.parse(readFileSync(explicit, 'utf8')).clusters[0].name).toBe('e');
      cli.env.BRAMBLE_CONFIG = join(cli.home, 'env.yaml');
      await cli.run(['config', 'set-cluster', 'v', '--server', '127.0.0.1:1']);
      expect(YAML.parse(readFileSync(cli.env.BRAMBLE_CONFIG, 'utf8')).clusters[0].name).toBe('v');
    } finally {
      cli.cleanup();
    }
  });
});
