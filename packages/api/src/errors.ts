/**
 * Errors of the resource API, shaped like Kubernetes' so that messages read
 * the way a kubectl user expects:
 *
 *   spec.replicas: Invalid value: -1: must be greater than or equal to 0
 *   spec.template.spec.containers[0].name: Required value
 *   spec.foo: Unsupported field "foo"
 */

/** One path segment: an object member name or an array index. */
export type PathSegment = string | number;

export type FieldErrorType =
  | 'Required' // a required field is missing
  | 'Invalid' // the value is malformed or out of range
  | 'NotSupported' // the value is not one of an enumeration
  | 'Duplicate' // the value must be unique within a list and is not
  | 'Forbidden' // the field may not be set (here, or at all)
  | 'TooLong' // a string or map is over its size limit
  | 'TooMany' // a list has too many items
  | 'NotFound' // a reference to something in the same object that does not exist
  | 'UnknownField'; // the field is not part of the schema (typo, or a Kubernetes field Bramble does not support)

export interface FieldError {
  type: FieldErrorType;
  /** Path in kubectl notation: `spec.template.spec.containers[0].env[2].name`, `data[app.conf]`. */
  field: string;
  /** The same path as segments (numbers are array indexes), for tools that locate the field in a manifest. */
  path: PathSegment[];
  /** The offending value, when there is one to show (secret data is never shown). */
  value?: unknown;
  /** Why the value is wrong, or what is expected. */
  detail?: string;
  /** `<field>: <body>`, formatted like Kubernetes' field.Error. */
  message: string;
}

/** Renders a path the way Kubernetes' field.Path does: members joined by `.`, indexes and map keys in brackets. */
export function formatPath(path: readonly PathSegment[], mapKeyAt: ReadonlySet<number> = new Set()): string {
  let out = '';
  path.forEach((segment, i) => {
    if (typeof segment === 'number' || mapKeyAt.has(i)) out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  });
  return out === '' ? '<root>' : out;
}

const MAX_VALUE_CHARS = 200;

/** A value as Kubernetes prints it in `Invalid value: ...`: strings quoted, numbers bare, objects as JSON. */
export function formatValue(value: unknown): string {
  let out: string;
  if (value === undefined) out = 'null';
  else if (typeof value === 'string') out = JSON.stringify(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') out = String(value);
  else {
    try {
      out = JSON.stringify(value) ?? String(value);
    } catch {
      out = String(value);
    }
  }
  return out.length > MAX_VALUE_CHARS ? `${out.slice(0, MAX_VALUE_CHARS)}...` : out;
}

/** The part after `<field>: `. */
export function formatErrorBody(type: FieldErrorType, value: unknown, detail: string | undefined, path: readonly PathSegment[]): string {
  const withDetail = (head: string): string => (detail ? `${head}: ${detail}` : head);
  switch (type) {
    case 'Required':
      return withDetail('Required value');
    case 'Invalid':
      return withDetail(`Invalid value: ${formatValue(value)}`);
    case 'NotSupported':
      return withDetail(`Unsupported value: ${formatValue(value)}`);
    case 'Duplicate':
      return withDetail(`Duplicate value: ${formatValue(value)}`);
    case 'Forbidden':
      return withDetail('Forbidden');
    case 'TooLong':
      return withDetail('Too long');
    case 'TooMany':
      return withDetail(`Too many: ${formatValue(value)}`);
    case 'NotFound':
      return withDetail(`Not found: ${formatValue(value)}`);
    case 'UnknownField':
      return withDetail(`Unsupported field ${JSON.stringify(String(path[path.length - 1] ?? ''))}`);
  }
}

export type ApiErrorCode =
  | 'BadRequest' // malformed request or manifest (syntax, unknown kind, bad selector)
  | 'Invalid' // the object failed validation; `fieldErrors` says where
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict' // stale resourceVersion
  | 'Forbidden'
  | 'Gone' // watch from a compacted revision
  | 'Expired'
  | 'Timeout'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable';

/** HTTP status Kubernetes uses for each reason (for the dashboard's HTTP API). */
export const httpStatusOf: Readonly<Record<ApiErrorCode, number>> = {
  BadRequest: 400,
  Invalid: 422,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Forbidden: 403,
  Gone: 410,
  Expired: 410,
  Timeout: 504,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
};

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  /** For `Invalid`: every field that failed (empty otherwise). */
  readonly fieldErrors: FieldError[];
  readonly kind: string | undefined;
  readonly objectName: string | undefined;

  constructor(
    code: ApiErrorCode,
    message: string,
    options: { fieldErrors?: FieldError[]; kind?: string; name?: string } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.fieldErrors = options.fieldErrors ?? [];
    this.kind = options.kind;
    this.objectName = options.name;
  }

  /**
   * `Deployment "web" is invalid: spec.replicas: Invalid value: -1: ...`; with
   * several errors, one per line prefixed by `* ` (as kubectl prints them).
   */
  static invalid(kind: string | undefined, name: string | undefined, errors: FieldError[]): ApiError {
    const what = `${kind ?? 'object'}${name ? ` ${JSON.stringify(name)}` : ''} is invalid`;
    const message =
      errors.length === 1 ? `${what}: ${errors[0].message}` : `${what}:\n${errors.map((e) => `* ${e.message}`).join('\n')}`;
    return new ApiError('Invalid', message, { fieldErrors: errors, kind, name });
  }
}

export function isApiError(error: unknown, code?: ApiErrorCode): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code);
}
