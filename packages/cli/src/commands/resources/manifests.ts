// Reading `-f FILE|DIR|-`: every document of every file parsed and validated before
// anything is sent, so one malformed document applies nothing. Problems name the file,
// the document and the field.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ManifestError, parseManifestDocuments, resolveKind, type ManifestDocument, type Resource } from '@bramble/api';
import type { CliContext } from '../../context.js';
import { CliError } from '../../errors.js';
import { KubectlError } from '../../printers/errors.js';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ManifestObject {
  object: Resource;
  /** The file it came from ("-" for stdin), for messages. */
  source: string;
  document: number;
}

/** The files a -f value stands for: itself, or a directory's manifest files sorted by name (recursively with -R). */
async function expand(path: string, recursive: boolean): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `the path ${JSON.stringify(path)} does not exist` : `cannot read ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) {
      if (recursive) files.push(...(await expand(full, true)));
    } else if (MANIFEST_EXTENSIONS.some((ext) => e.name.endsWith(ext))) {
      files.push(full);
    }
  }
  return files;
}

/**
 * Every object in the -f sources, in order. Throws a KubectlError listing every problem
 * (one `error: ...` line each) when any document is malformed or invalid.
 */
export async function readManifests(ctx: CliContext, sources: string[], opts: { recursive?: boolean } = {}): Promise<ManifestObject[]> {
  if (sources.length === 0) throw new CliError('must specify one of -f and -k (-f FILE, DIR or - for stdin)');
  const files: string[] = [];
  for (const s of sources) files.push(...(s === '-' ? ['-'] : await expand(s, opts.recursive ?? false)));
  if (files.length === 0) throw new CliError(`no objects passed to apply: no .yaml, .yml or .json files in ${sources.map((s) => JSON.stringify(s)).join(', ')}`);
  const out: ManifestObject[] = [];
  const problems: string[] = [];
  let stdinRead = false;
  for (const file of files) {
    let text: string;
    if (file === '-') {
      if (stdinRead) throw new CliError('-f -: standard input can be read only once');
      stdinRead = true;
      text = await ctx.readStdin();
    } else {
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${JSON.stringify(file)}: ${(err as Error).message}`);
      }
    }
    const source = file === '-' ? 'STDIN' : file;
    let docs: ManifestDocument[];
    try {
      docs = parseManifestDocuments(text, source);
    } catch (err) {
      if (err instanceof ManifestError) {
        problems.push(...err.problems.map((p) => p.message));
        continue;
      }
      throw err;
    }
    for (const d of docs) {
      if (!resolveKind(d.object.kind)) problems.push(`${d.label}: the server doesn't have a resource type ${JSON.stringify(d.object.kind)}`);
      out.push({ object: d.object, source, document: d.document });
    }
  }
  if (problems.length > 0) throw new KubectlError(problems.map((p) => `error: ${p}\n`).join(''));
  if (out.length === 0) throw new CliError('no objects passed to apply');
  return out;
}

/**
 * Put each namespaced object in `namespace` unless it names its own; an object naming
 * another namespace than an explicit -n is refused, as kubectl does.
 */
export function placeInNamespace(objects: ManifestObject[], namespace: string, explicit: boolean): void {
  for (const { object } of objects) {
    const kind = resolveKind(object.kind);
    if (!kind?.namespaced) continue;
    const own = object.metadata.namespace;
    if (own && explicit && own !== namespace) {
      throw new CliError(`the namespace from the provided object ${JSON.stringify(own)} does not match the namespace ${JSON.stringify(namespace)}. You must pass '--namespace=${own}' to perform this operation.`);
    }
    if (!own) object.metadata.namespace = namespace;
  }
}
