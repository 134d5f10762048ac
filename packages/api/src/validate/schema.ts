/**
 * A small declarative schema for the shapes of objects, and the structural
 * pass that checks a value against it: types, enumerations, string formats,
 * integer ranges, required members, and unknown members at every level.
 *
 * The pass also returns a *sanitized* copy: unknown members and values of the
 * wrong type are dropped (array items of the wrong type become an empty value
 * so indexes stay put). The semantic validators run on that copy, so they can
 * trust the TypeScript types, and their errors at or under a path that already
 * failed here are dropped as noise.
 *
 * The same schemas tell `applyManifest` which lists merge by key.
 */
import type { FieldError } from '../errors.js';
import { quantityErrors } from '../quantity.js';
import { isObject, setMember } from '../json.js';
import { parsePercent } from '../intstr.js';
import { FieldPath, REDACTED, invalid, notSupported, required, unknownField } from './field.js';
import {
  editDistance,
  isBase64,
  isConfigKey,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isIanaSvcName,
  isIPv4,
  isLabelValue,
  isQualifiedName,
  isRelativeSafePath,
  isTimestamp,
} from './formats.js';

export type StringFormat =
  | 'dns1123Label'
  | 'dns1123Subdomain'
  | 'dns1035Label'
  | 'qualifiedName'
  | 'labelValue'
  | 'ianaSvcName'
  | 'configKey'
  | 'envVarName'
  | 'ipv4'
  | 'timestamp'
  | 'base64'
  | 'relativePath';

export const formatCheckers: Readonly<Record<StringFormat, (value: string) => string[]>> = {
  dns1123Label: isDns1123Label,
  dns1123Subdomain: isDns1123Subdomain,
  dns1035Label: isDns1035Label,
  qualifiedName: isQualifiedName,
  labelValue: isLabelValue,
  ianaSvcName: isIanaSvcName,
  configKey: isConfigKey,
  envVarName: isEnvVarName,
  ipv4: isIPv4,
  timestamp: isTimestamp,
  base64: isBase64,
  relativePath: isRelativeSafePath,
};

export interface StringSchema {
  t: 'string';
  enum?: readonly string[];
  format?: StringFormat;
  /** Never echo the value in errors (Secret data). */
  secret?: boolean;
}
export interface IntSchema {
  t: 'int';
  min?: number;
  max?: number;
  /** Replaces the generic range message. */
  rangeMessage?: string;
}
export interface BoolSchema {
  t: 'bool';
}
export interface IntOrStringSchema {
  t: 'intOrString';
  /** `port`: 1-65535 or an IANA service name. `percent`: >= 0 or "N%". */
  format: 'port' | 'percent';
}
export interface QuantitySchema {
  t: 'quantity';
}
export interface ObjectSchema {
  t: 'object';
  fields: Readonly<Record<string, Schema>>;
  required: readonly string[];
  /** Kubernetes fields Bramble does not support: rejected with a message saying so. */
  k8sOnly: readonly string[];
}
export interface ArraySchema {
  t: 'array';
  of: Schema;
  /** `applyManifest` merges items with equal values of this member instead of replacing the list. */
  mergeKey?: string;
  /** `applyManifest` treats a list of strings as a set. */
  set?: boolean;
}
export interface MapSchema {
  t: 'map';
  of: Schema;
  keyFormat?: StringFormat;
  /** The only keys allowed. */
  keys?: readonly string[];
}

export type Schema = StringSchema | IntSchema | BoolSchema | IntOrStringSchema | QuantitySchema | ObjectSchema | ArraySchema | MapSchema;

export const str = (opts: Omit<StringSchema, 't'> = {}): StringSchema => ({ t: 'string', ...opts });
export const int = (opts: Omit<IntSchema, 't'> = {}): IntSchema => ({ t: 'int', ...opts });
export const bool: BoolSchema = { t: 'bool' };
export const quantity: QuantitySchema = { t: 'quantity' };
export const time: StringSchema = str({ format: 'timestamp' });
export const intOrString = (format: IntOrStringSchema['format']): IntOrStringSchema => ({ t: 'intOrString', format });
export const arr = (of: Schema, opts: Omit<ArraySchema, 't' | 'of'> = {}): ArraySchema => ({ t: 'array', of, ...opts });
export const map = (of: Schema, opts: Omit<MapSchema, 't' | 'of'> = {}): MapSchema => ({ t: 'map', of, ...opts });
export const oneOf = (...values: string[]): StringSchema => str({ enum: values });

/**
 * An object schema that must list exactly the members of `T` (the compiler
 * checks both ways), which keeps the schemas and the types in step.
 */
export function obj<T>(
  fields: { [K in keyof T]-?: Schema },
  opts: { required?: ReadonlyArray<keyof T & string>; k8sOnly?: readonly string[] } = {},
): ObjectSchema {
  return { t: 'object', fields: fields as Record<string, Schema>, required: opts.required ?? [], k8sOnly: opts.k8sOnly ?? [] };
}

/** The schema of a member of an object or an item of a list or map, if any. */
export function childSchema(schema: Schema | undefined, key: string | number): Schema | undefined {
  if (!schema) return undefined;
  if (schema.t === 'object') return typeof key === 'string' ? schema.fields[key] : undefined;
  if (schema.t === 'array') return typeof key === 'number' ? schema.of : undefined;
  if (schema.t === 'map') return typeof key === 'string' ? schema.of : undefined;
  return undefined;
}

export interface StructuralResult {
  value: unknown;
  errors: FieldError[];
  /** Paths whose values were rejected here: semantic errors at or under them are dropped. */
  badPaths: FieldPath[];
}

interface Ctx {
  errors: FieldError[];
  badPaths: FieldPath[];
}

export function checkStructure(schema: Schema, value: unknown, path: FieldPath): StructuralResult {
  const ctx: Ctx = { errors: [], badPaths: [] };
  const sanitized = walk(schema, value, path, ctx);
  return { value: sanitized, errors: ctx.errors, badPaths: ctx.badPaths };
}

const STRING_HINT = 'must be a string (in YAML, quote values such as 8080, yes, on or true to keep them strings)';

function fail(ctx: Ctx, path: FieldPath, error: FieldError): undefined {
  ctx.errors.push(error);
  ctx.badPaths.push(path);
  return undefined;
}

function checkFormat(format: StringFormat | undefined, value: string, path: FieldPath, ctx: Ctx, secret: boolean): boolean {
  if (!format) return true;
  const problems = formatCheckers[format](value);
  for (const p of problems) fail(ctx, path, invalid(path, secret ? REDACTED : value, p));
  return problems.length === 0;
}

/** Returns the sanitized value, or undefined if the value is rejected as a whole. */
function walk(schema: Schema, value: unknown, path: FieldPath, ctx: Ctx): unknown {
  switch (schema.t) {
    case 'string': {
      if (typeof value !== 'string') return fail(ctx, path, invalid(path, schema.secret ? REDACTED : value, STRING_HINT));
      if (schema.enum && !schema.enum.includes(value)) return fail(ctx, path, notSupported(path, value, schema.enum));
      return checkFormat(schema.format, value, path, ctx, schema.secret === true) ? value : undefined;
    }
    case 'int': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return fail(ctx, path, invalid(path, value, 'must be an integer'));
      const { min, max } = schema;
      if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
        const detail =
          schema.rangeMessage ??
          (min !== undefined && max !== undefined
            ? `must be between ${min} and ${max}, inclusive`
            : min !== undefined
              ? `must be greater than or equal to ${min}`
              : `must be less than or equal to ${max}`);
        return fail(ctx, path, invalid(path, value, detail));
      }
      return value;
    }
    case 'bool':
      return typeof value === 'boolean' ? value : fail(ctx, path, invalid(path, value, 'must be a boolean (true or false)'));
    case 'quantity': {
      const problems = quantityErrors(value);
      if (problems.length > 0) return fail(ctx, path, invalid(path, value, problems[0]));
      return value;
    }
    case 'intOrString':
      return walkIntOrString(schema, value, path, ctx);
    case 'object':
      return walkObject(schema, value, path, ctx);
    case 'array': {
      if (!Array.isArray(value)) return fail(ctx, path, invalid(path, value, 'must be a list'));
      return value.map((item, i) => {
        const itemPath = path.index(i);
        const out = item === null ? fail(ctx, itemPath, invalid(itemPath, null, 'must not be null')) : walk(schema.of, item, itemPath, ctx);
        return out === undefined ? zeroValue(schema.of) : out;
      });
    }
    case 'map': {
      if (!isObject(value)) return fail(ctx, path, invalid(path, value, 'must be an object (a map of keys to values)'));
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (item === null || item === undefined) continue;
        const itemPath = path.key(key);
        if (schema.keys && !schema.keys.includes(key)) {
          fail(ctx, itemPath, notSupported(itemPath, key, schema.keys));
          continue;
        }
        if (schema.keyFormat) {
          const problems = formatCheckers[schema.keyFormat](key);
          for (const p of problems) fail(ctx, itemPath, invalid(itemPath, key, p));
          if (problems.length > 0) continue;
        }
        const checked = walk(schema.of, item, itemPath, ctx);
        if (checked !== undefined) setMember(out, key, checked);
      }
      return out;
    }
  }
}

function walkIntOrString(schema: IntOrStringSchema, value: unknown, path: FieldPath, ctx: Ctx): unknown {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return fail(ctx, path, invalid(path, value, 'must be an integer'));
    if (schema.format === 'port' && (value < 1 || value > 65535)) {
      return fail(ctx, path, invalid(path, value, 'must be between 1 and 65535, inclusive'));
    }
    if (schema.format === 'percent' && value < 0) return fail(ctx, path, invalid(path, value, 'must be greater than or equal to 0'));
    return value;
  }
  if (typeof value !== 'string') return fail(ctx, path, invalid(path, value, 'must be an integer or a string'));
  if (schema.format === 'port') {
    const problems = isIanaSvcName(value);
    for (const p of problems) fail(ctx, path, invalid(path, value, p));
    return problems.length === 0 ? value : undefined;
  }
  if (parsePercent(value) === undefined) {
    return fail(ctx, path, invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%')"));
  }
  return value;
}

function walkObject(schema: ObjectSchema, value: unknown, path: FieldPath, ctx: Ctx): unknown {
  if (!isObject(value)) return fail(ctx, path, invalid(path, value, 'must be an object'));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null || item === undefined) continue; // null means "not set"
    const fieldPath = path.child(key);
    const fieldSchema = Object.prototype.hasOwnProperty.call(schema.fields, key) ? schema.fields[key] : undefined;
    if (!fieldSchema) {
      fail(ctx, fieldPath, unknownField(fieldPath, unknownFieldHint(schema, key)));
      continue;
    }
    const checked = walk(fieldSchema, item, fieldPath, ctx);
    if (checked !== undefined) setMember(out, key, checked);
  }
  for (const key of schema.required) {
    if (value[key] === undefined || value[key] === null) fail(ctx, path.child(key), required(path.child(key)));
  }
  return out;
}

function unknownFieldHint(schema: ObjectSchema, key: string): string | undefined {
  if (schema.k8sOnly.includes(key)) return 'Bramble does not support this Kubernetes field';
  const known = Object.keys(schema.fields);
  const lower = key.toLowerCase();
  const close = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => editDistance(k, key) <= (key.length > 4 ? 2 : 1));
  return close ? `did you mean ${JSON.stringify(close)}?` : undefined;
}

function zeroValue(schema: Schema): unknown {
  switch (schema.t) {
    case 'string':
      return '';
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'quantity':
      return '0';
    case 'intOrString':
      return 0;
    case 'object':
    case 'map':
      return {};
    case 'array':
      return [];
  }
}
