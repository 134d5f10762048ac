/**
 * The YAML library, loaded on first use: processes that never read or write YAML (agents,
 * masters) do not pay for its code and heap.
 */
import { createRequire } from 'node:module';

type YamlLibrary = typeof import('yaml');

const requireModule = createRequire(import.meta.url);
let library: YamlLibrary | undefined;

export function yamlLibrary(): YamlLibrary {
  return (library ??= requireModule('yaml') as YamlLibrary);
}
