// Debian's redis-server, which the to-do app runs: installed with apt-get when missing (the
// tests that need it call this first). apt-get waits for the dpkg lock, so test files calling
// it side by side do not trip over each other; stale package lists get one `apt-get update`.
import { spawnSync } from 'node:child_process';

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function aptGet(...args: string[]): { ok: boolean; why: string } {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=180', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const why = r.error?.message ?? `exit ${r.status}: ${`${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ')}`;
  return { ok: r.status === 0, why };
}

export function ensureRedisServer(): void {
  if (hasRedisServer()) return;
  let install = aptGet('install', '-y', 'redis-server');
  if (!install.ok) {
    const update = aptGet('update');
    if (update.ok) install = aptGet('install', '-y', 'redis-server');
  }
  if (!install.ok || !hasRedisServer()) {
    throw new Error(`redis-server is needed (the to-do app runs it) and is missing; \`apt-get install -y redis-server\` failed: ${install.why}`);
  }
}
