// The CLI loads a command's heavy modules only when that command runs: `bramble agent` (a
// long-running process on small nodes) must not carry the master's Raft/LevelDB/controller
// code or the kubectl-style printers. Each watched module is mocked with a factory that records
// its loading and then hands back the real module.
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CliHarness } from './harness.js';

const loaded = vi.hoisted(() => new Set<string>());

vi.mock('@bramble/master', async (importOriginal) => {
  loaded.add('@bramble/master');
  return importOriginal();
});
vi.mock('@bramble/agent', async (importOriginal) => {
  loaded.add('@bramble/agent');
  return importOriginal();
});
vi.mock('../src/printers/describe.js', async (importOriginal) => {
  loaded.add('printers/describe');
  return importOriginal();
});
vi.mock('../src/printers/table.js', async (importOriginal) => {
  loaded.add('printers/table');
  return importOriginal();
});
vi.mock('../src/printers/columns.js', async (importOriginal) => {
  loaded.add('printers/columns');
  return importOriginal();
});
vi.mock('../src/printers/top.js', async (importOriginal) => {
  loaded.add('printers/top');
  return importOriginal();
});

describe('lazy loading of command modules', () => {
  const cli = new CliHarness();
  afterAll(() => cli.cleanup());
  beforeEach(() => loaded.clear());

  it('building the program and printing help loads neither the master, the agent nor the printers', async () => {
    const { buildProgram } = await import('../src/program.js');
    const program = buildProgram();
    expect(program.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['master', 'agent', 'get', 'describe', 'top']));
    for (const args of [['--help'], ['agent', '--help'], ['master', '--help'], ['get', '--help'], ['top', 'nodes', '--help']]) {
      const r = await cli.run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toContain('Usage: bramble');
    }
    expect([...loaded]).toEqual([]);
  });

  it('a command loads its printers when it runs (the markers work)', async () => {
    // No master listens on port 1: describe loads its printers, then fails to connect.
    const r = await cli.run(['--server', '127.0.0.1:1', '--timeout', '300ms', 'describe', 'pods']);
    expect(r.code).toBe(1);
    expect(loaded.has('printers/describe')).toBe(true);
    expect(loaded.has('@bramble/master')).toBe(false);
  });

  it('the master flag defaults shown in help are the master package defaults', async () => {
    const { MASTER_FLAG_DEFAULTS } = await import('../src/commands/master.js');
    const { DEFAULT_MASTER_OPTIONS } = await vi.importActual<typeof import('@bramble/master')>('@bramble/master');
    const shared = Object.fromEntries(Object.keys(MASTER_FLAG_DEFAULTS).map((k) => [k, DEFAULT_MASTER_OPTIONS[k as keyof typeof DEFAULT_MASTER_OPTIONS]]));
    expect(MASTER_FLAG_DEFAULTS).toEqual(shared);
  });
});
