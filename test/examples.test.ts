// Every example manifest in deploy/examples parses and validates, so `scripts/cluster up`
// and the README walk-throughs never meet a broken manifest.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDefaults, parseManifests, validate } from '@bramble/api';
import { REPO_ROOT } from '@bramble/testkit';

function manifests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return manifests(path);
    return /\.(ya?ml|json)$/.test(name) ? [path] : [];
  });
}

describe('deploy/examples', () => {
  const files = manifests(join(REPO_ROOT, 'deploy/examples'));
  it('has manifests', () => expect(files.length).toBeGreaterThan(0));
  for (const file of files) {
    it(`${file.slice(REPO_ROOT.length + 1)} is valid`, () => {
      const objects = parseManifests(readFileSync(file, 'utf8'), file);
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) expect(validate(applyDefaults(obj))).toEqual([]);
    });
  }
});
