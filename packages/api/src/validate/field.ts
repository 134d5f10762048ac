/**
 * Field paths and field-error constructors, after Kubernetes'
 * `k8s.io/apimachinery/pkg/util/validation/field`.
 */
import { formatErrorBody, formatPath, type FieldError, type FieldErrorType, type PathSegment } from '../errors.js';

export class FieldPath {
  private constructor(
    readonly segments: readonly PathSegment[],
    private readonly mapKeys: ReadonlySet<number>,
  ) {}

  static root(...names: string[]): FieldPath {
    return new FieldPath(names, new Set());
  }

  /** An object member: `spec` -> `spec.replicas`. */
  child(...names: string[]): FieldPath {
    return new FieldPath([...this.segments, ...names], this.mapKeys);
  }

  /** An array item: `containers` -> `containers[0]`. */
  index(i: number): FieldPath {
    return new FieldPath([...this.segments, i], this.mapKeys);
  }

  /** A map entry: `data` -> `data[app.conf]`. */
  key(key: string): FieldPath {
    return new FieldPath([...this.segments, key], new Set([...this.mapKeys, this.segments.length]));
  }

  toString(): string {
    return formatPath(this.segments, this.mapKeys);
  }

  /** True if `this` is `other` or inside it. */
  within(other: FieldPath): boolean {
    return other.segments.length <= this.segments.length && other.segments.every((s, i) => this.segments[i] === s);
  }
}

function make(type: FieldErrorType, path: FieldPath, value: unknown, detail: string | undefined, hasValue: boolean): FieldError {
  const field = path.toString();
  const error: FieldError = { type, field, path: [...path.segments], message: '' };
  if (hasValue) error.value = value;
  if (detail !== undefined && detail !== '') error.detail = detail;
  error.message = `${field}: ${formatErrorBody(type, value, error.detail, path.segments)}`;
  return error;
}

export function required(path: FieldPath, detail?: string): FieldError {
  return make('Required', path, undefined, detail, false);
}

export function invalid(path: FieldPath, value: unknown, detail?: string): FieldError {
  return make('Invalid', path, value, detail, true);
}

export function notSupported(path: FieldPath, value: unknown, supported: readonly string[]): FieldError {
  const detail = supported.length > 0 ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : undefined;
  return make('NotSupported', path, value, detail, true);
}

export function duplicate(path: FieldPath, value: unknown): FieldError {
  return make('Duplicate', path, value, undefined, true);
}

export function forbidden(path: FieldPath, detail: string): FieldError {
  return make('Forbidden', path, undefined, detail, false);
}

export function tooLong(path: FieldPath, maxBytes: number): FieldError {
  return make('TooLong', path, undefined, `must have at most ${maxBytes} bytes`, false);
}

export function tooMany(path: FieldPath, count: number, max: number): FieldError {
  return make('TooMany', path, count, `must have at most ${max} items`, true);
}

export function notFound(path: FieldPath, value: unknown, detail?: string): FieldError {
  return make('NotFound', path, value, detail, true);
}

export function unknownField(path: FieldPath, detail?: string): FieldError {
  return make('UnknownField', path, undefined, detail, false);
}

/** The value shown instead of secret data in error messages. */
export const REDACTED = '<redacted>';
