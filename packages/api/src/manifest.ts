/**
 * Manifests: YAML (one or many documents separated by `---`), JSON, and
 * `kind: List` documents, parsed into typed objects. Each object is checked
 * the way the server will check it (defaults applied, then `validate`), and
 * every problem in every document is reported at once, prefixed with where it
 * is:
 *
 *   hello.yaml (document 2, Deployment "web"): spec.replicas: Invalid value: -1: must be greater than or equal to 0
 *   hello.yaml (document 1): line 3, column 9: YAML syntax error: Map keys must be unique
 *
 * YAML is read as YAML 1.1, like kubectl does (`0644` is octal, `yes`/`on` are
 * booleans), without 1.1's timestamp and sexagesimal types so that times and
 * `12:30` stay strings.
 */
import type { Document, LineCounter, Tags } from 'yaml';
import { yamlLibrary as yaml } from './yaml-library.js';
import { applyDefaults } from './defaults.js';
import { ApiError, type FieldError, type PathSegment } from './errors.js';
import { isObject, stripNulls } from './json.js';
import { KINDS } from './registry.js';
import type { Resource } from './types/index.js';
import { validate } from './validate/index.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_MANIFEST_OBJECTS = 1000;

/** One object of a manifest, with where it came from. */
export interface ManifestDocument {
  /** The object as written (nulls dropped), or defaulted if `options.defaults`. */
  object: Resource;
  /** 1-based position of its YAML document in the stream. */
  document: number;
  /** 0-based index in a `List`'s items, if it came from one. */
  item?: number;
  /** 1-based line where the object starts. */
  line: number;
  /** `hello.yaml (document 2, Deployment "web")`: the prefix used in messages about this object. */
  label: string;
}

export interface ManifestProblem {
  document: number;
  item?: number;
  kind?: string;
  name?: string;
  /** 1-based line and column of the problem (of the field, or of the nearest enclosing one that exists). */
  line?: number;
  column?: number;
  /** The field error, for validation problems. */
  fieldError?: FieldError;
  /** The full message, prefixed with the location. */
  message: string;
}

/** Everything wrong with a manifest. `code` is `BadRequest` if any document did not parse, else `Invalid`. */
export class ManifestError extends ApiError {
  constructor(readonly problems: ManifestProblem[]) {
    super(
      problems.some((p) => !p.fieldError) ? 'BadRequest' : 'Invalid',
      problems.map((p) => p.message).join('\n'),
      { fieldErrors: problems.flatMap((p) => (p.fieldError ? [p.fieldError] : [])) },
    );
    this.name = 'ManifestError';
  }
}

export interface ParseManifestOptions {
  /** Return defaulted objects instead of the objects as written (send the latter to `apply`). */
  defaults?: boolean;
  /** Skip validation (the objects are still parsed and must be mappings). */
  validate?: boolean;
}

const KEPT_TAGS = new Set(['map', 'seq', 'str', 'null', 'bool', 'int', 'float', 'merge'].map((t) => `tag:yaml.org,2002:${t}`));
const keepTags = (tags: Tags): Tags => tags.filter((t) => typeof t !== 'string' && KEPT_TAGS.has(t.tag) && t.format !== 'TIME');

function locationLabel(source: string | undefined, document: number, item: number | undefined, obj: unknown): { label: string; kind?: string; name?: string } {
  const kind = isObject(obj) && typeof obj.kind === 'string' && obj.kind !== '' ? obj.kind : undefined;
  const meta = isObject(obj) && isObject(obj.metadata) ? obj.metadata : undefined;
  const name = meta && typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
  const parts = [`document ${document}`];
  if (item !== undefined) parts.push(`items[${item}]`);
  if (kind) parts.push(name ? `${kind} ${JSON.stringify(name)}` : kind);
  const label = source ? `${source} (${parts.join(', ')})` : `${parts[0]}${parts.length > 1 ? ` (${parts.slice(1).join(', ')})` : ''}`;
  return { label, kind, name };
}

/** The position of the node at `path`, or of its nearest ancestor that exists. */
function positionOf(doc: Document, lines: LineCounter, path: PathSegment[]): { line: number; column: number } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = yaml().isNode(node) ? node.range : undefined;
    if (range) {
      const { line, col } = lines.linePos(range[0]);
      return { line, column: col };
    }
  }
  return undefined;
}

/**
 * Parses a manifest into its objects with their locations. Throws
 * `ManifestError` listing every problem in every document.
 */
export function parseManifestDocuments(text: string, source?: string, options: ParseManifestOptions = {}): ManifestDocument[] {
  const where = source ? `${source}: ` : '';
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new ApiError('BadRequest', `${where}manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  const lines = new (yaml().LineCounter)();
  const docs = yaml().parseAllDocuments(text, { version: '1.1', customTags: keepTags, lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const out: ManifestDocument[] = [];
  const problems: ManifestProblem[] = [];

  docs.forEach((doc, index) => {
    const document = index + 1;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const { line, col } = lines.linePos(error.pos[0]);
        const { label } = locationLabel(source, document, undefined, undefined);
        const reason = error.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
        problems.push({ document, line, column: col, message: `${label}: line ${line}, column ${col}: YAML syntax error: ${reason}` });
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      const { label } = locationLabel(source, document, undefined, undefined);
      problems.push({ document, message: `${label}: ${(error as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return; // an empty document (e.g. after a trailing ---)
    const addObject = (obj: unknown, item: number | undefined, path: PathSegment[]): void => {
      const { label, kind, name } = locationLabel(source, document, item, obj);
      const pos = positionOf(doc, lines, path);
      if (!isObject(obj)) {
        problems.push({ document, item, ...pos, message: `${label}: must be a mapping with apiVersion, kind and metadata, not ${describe(obj)}` });
        return;
      }
      if (out.length >= MAX_MANIFEST_OBJECTS) {
        problems.push({ document, item, message: `${label}: more than ${MAX_MANIFEST_OBJECTS} objects in one manifest` });
        return;
      }
      const written = stripNulls(obj);
      const defaulted = applyDefaults(written);
      const errors = options.validate === false ? [] : validate(defaulted);
      const found = errors.map((fieldError): ManifestProblem => {
        const at = positionOf(doc, lines, [...path, ...fieldError.path]);
        return { document, item, kind, name, ...at, fieldError, message: `${label}: ${fieldError.message}` };
      });
      // In file order, so a reader can walk down the manifest (sort is stable for equal lines).
      problems.push(...found.sort((x, y) => (x.line ?? 0) - (y.line ?? 0)));
      out.push({
        object: (options.defaults ? defaulted : written) as unknown as Resource,
        document,
        ...(item === undefined ? {} : { item }),
        line: pos?.line ?? 1,
        label,
      });
    };
    if (Array.isArray(value)) {
      value.forEach((obj, i) => addObject(obj, i, [i]));
    } else if (isObject(value) && isListKind(value.kind)) {
      const listErrors = listProblems(value);
      const { label } = locationLabel(source, document, undefined, value);
      for (const problem of listErrors) problems.push({ document, ...positionOf(doc, lines, []), message: `${label}: ${problem}` });
      if (Array.isArray(value.items)) value.items.forEach((obj, i) => addObject(obj, i, ['items', i]));
    } else {
      addObject(value, undefined, []);
    }
  });

  if (problems.length > 0) throw new ManifestError(problems);
  return out;
}

/** Parses a manifest into typed objects; see `parseManifestDocuments`. */
export function parseManifests(text: string, source?: string, options: ParseManifestOptions = {}): Resource[] {
  return parseManifestDocuments(text, source, options).map((d) => d.object);
}

/** `List`, or a typed list such as `DeploymentList`. */
function isListKind(kind: unknown): boolean {
  return typeof kind === 'string' && (kind === 'List' || (kind.endsWith('List') && KINDS.some((k) => `${k.kind}List` === kind)));
}

function listProblems(list: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(list)) {
    if (!['apiVersion', 'kind', 'metadata', 'items'].includes(key) && list[key] !== null) problems.push(`${key}: Unsupported field ${JSON.stringify(key)}`);
  }
  if (!Array.isArray(list.items)) problems.push(list.items === undefined || list.items === null ? 'items: Required value' : 'items: Invalid value: must be a list');
  return problems;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value} (${JSON.stringify(value)})`;
}
