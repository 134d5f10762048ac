/**
 * Label selectors (string form and the structured `LabelSelector` of
 * Deployments, ReplicaSets and DaemonSets) compiled into one matcher, and
 * field selectors, with Kubernetes' semantics:
 *
 *   app=web  app==web      the label is present with this value
 *   tier!=db               the label is absent, or has another value
 *   env in (prod,staging)  present with one of these values
 *   env notin (dev)        absent, or none of these values
 *   release  !legacy       present / absent
 *
 * Requirements are ANDed. An empty selector matches everything; the
 * `Selector.nothing()` (what a missing structured selector means) matches nothing.
 */
import { ApiError, type FieldError } from './errors.js';
import { isObject } from './json.js';
import type { KindName, LabelSelector, LabelSelectorOperator } from './types/index.js';
import { FieldPath, forbidden, required } from './validate/field.js';
import { isLabelValue, isQualifiedName } from './validate/formats.js';

export interface Requirement {
  key: string;
  operator: LabelSelectorOperator;
  /** Sorted; one or more for In/NotIn, none for Exists/DoesNotExist. */
  values: readonly string[];
}

export type Labels = Readonly<Record<string, string>> | undefined;

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && r.values.includes(labels[r.key]);
    case 'NotIn':
      return !has || !r.values.includes(labels[r.key]);
  }
}

function requirementString(r: Requirement): string {
  switch (r.operator) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'In':
      return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`;
  }
}

export class Selector {
  private constructor(
    readonly requirements: readonly Requirement[],
    private readonly matchesNothing: boolean,
  ) {}

  /** Requirements are sorted by key, values within each are sorted and unique. */
  static of(requirements: readonly Requirement[]): Selector {
    const normalized = requirements
      .map((r) => ({ key: r.key, operator: r.operator, values: [...new Set(r.values)].sort() }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return new Selector(normalized, false);
  }

  static everything(): Selector {
    return new Selector([], false);
  }

  static nothing(): Selector {
    return new Selector([], true);
  }

  matches(labels: Labels): boolean {
    return !this.matchesNothing && this.requirements.every((r) => requirementMatches(r, labels));
  }

  /** True if it matches every set of labels. */
  isEverything(): boolean {
    return !this.matchesNothing && this.requirements.length === 0;
  }

  isNothing(): boolean {
    return this.matchesNothing;
  }

  /** The string form, which `parseLabelSelector` reads back (the nothing selector prints as `<none>`). */
  toString(): string {
    return this.matchesNothing ? '<none>' : this.requirements.map(requirementString).join(',');
  }
}

// ---- string form ----------------------------------------------------------

type TokenType = 'id' | ',' | '=' | '==' | '!=' | '!' | '(' | ')' | '<' | '>' | 'end';
interface Token {
  type: TokenType;
  text: string;
  /** 0-based offset in the input. */
  pos: number;
}

const SPECIAL = new Set([',', '=', '!', '(', ')', '<', '>']);
export const MAX_SELECTOR_CHARS = 4096;

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '=' || c === '!') {
      if (text[i + 1] === '=') {
        tokens.push({ type: c === '=' ? '==' : '!=', text: `${c}=`, pos: i });
        i += 2;
      } else {
        tokens.push({ type: c, text: c, pos: i });
        i++;
      }
    } else if (SPECIAL.has(c)) {
      tokens.push({ type: c as TokenType, text: c, pos: i });
      i++;
    } else {
      const start = i;
      while (i < text.length && !SPECIAL.has(text[i]) && !/\s/.test(text[i])) i++;
      tokens.push({ type: 'id', text: text.slice(start, i), pos: start });
    }
  }
  tokens.push({ type: 'end', text: '', pos: text.length });
  return tokens;
}

class SelectorParser {
  private index = 0;
  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const t = this.tokens[this.index];
    if (t.type !== 'end') this.index++;
    return t;
  }

  fail(problem: string, at: Token): never {
    const where = at.type === 'end' ? `at position ${at.pos + 1} (end of input)` : `at position ${at.pos + 1}`;
    throw new ApiError('BadRequest', `invalid label selector ${JSON.stringify(this.input)}: ${problem} ${where}`);
  }

  private describe(t: Token): string {
    return t.type === 'end' ? 'end of input' : JSON.stringify(t.text);
  }

  parse(): Requirement[] {
    const out: Requirement[] = [];
    if (this.peek().type === 'end') return out;
    for (;;) {
      out.push(this.requirement());
      const t = this.next();
      if (t.type === 'end') return out;
      if (t.type !== ',') this.fail(`expected "," or end of input after a requirement, found ${this.describe(t)}`, t);
    }
  }

  private key(): string {
    const t = this.next();
    if (t.type !== 'id') this.fail(`expected a label key, found ${this.describe(t)}`, t);
    const problems = isQualifiedName(t.text);
    if (problems.length > 0) this.fail(`invalid label key ${JSON.stringify(t.text)}: ${problems.join('; ')}`, t);
    return t.text;
  }

  private value(key: string): string {
    const t = this.peek();
    if (t.type !== 'id') return ''; // `key=` means the empty value
    this.next();
    const problems = isLabelValue(t.text);
    if (problems.length > 0) this.fail(`invalid value ${JSON.stringify(t.text)} for label ${JSON.stringify(key)}: ${problems.join('; ')}`, t);
    return t.text;
  }

  private requirement(): Requirement {
    if (this.peek().type === '!') {
      this.next();
      return { key: this.key(), operator: 'DoesNotExist', values: [] };
    }
    const key = this.key();
    const op = this.peek();
    switch (op.type) {
      case 'end':
      case ',':
        return { key, operator: 'Exists', values: [] };
      case '=':
      case '==':
        this.next();
        return { key, operator: 'In', values: [this.value(key)] };
      case '!=':
        this.next();
        return { key, operator: 'NotIn', values: [this.value(key)] };
      case '<':
      case '>':
        return this.fail(`operator "${op.text}" is not supported (use =, ==, !=, in, notin, key or !key)`, op);
      case 'id':
        if (op.text === 'in' || op.text === 'notin') {
          this.next();
          return { key, operator: op.text === 'in' ? 'In' : 'NotIn', values: this.valueSet(key, op.text) };
        }
        return this.fail(`expected an operator (=, ==, !=, in, notin) or "," after label ${JSON.stringify(key)}, found ${this.describe(op)}`, op);
      default:
        return this.fail(`expected an operator (=, ==, !=, in, notin) or "," after label ${JSON.stringify(key)}, found ${this.describe(op)}`, op);
    }
  }

  private valueSet(key: string, op: string): string[] {
    const open = this.next();
    if (open.type !== '(') this.fail(`expected "(" after "${op}", found ${this.describe(open)}`, open);
    if (this.peek().type === ')') this.fail(`the set of values for "${op}" can't be empty`, this.peek());
    const values: string[] = [];
    for (;;) {
      values.push(this.value(key));
      const t = this.next();
      if (t.type === ')') return values;
      if (t.type !== ',') this.fail(`expected "," or ")" in the values of "${op}", found ${this.describe(t)}`, t);
    }
  }
}

/**
 * Parses `app=web,tier!=db,env in (prod,staging),!legacy,release`. Throws
 * `ApiError('BadRequest')` saying what was expected and at which position
 * (1-based).
 */
export function parseLabelSelector(text: string): Selector {
  if (text.length > MAX_SELECTOR_CHARS) {
    throw new ApiError('BadRequest', `invalid label selector: longer than ${MAX_SELECTOR_CHARS} characters`);
  }
  return Selector.of(new SelectorParser(text, lex(text)).parse());
}

// ---- structured form ------------------------------------------------------

/**
 * The problems with a structured selector beyond its shape (which the schema
 * checks): values required for In/NotIn and forbidden for Exists/DoesNotExist.
 */
export function labelSelectorErrors(selector: LabelSelector, path: FieldPath): FieldError[] {
  const errors: FieldError[] = [];
  (selector.matchExpressions ?? []).forEach((expr, i) => {
    const valuesPath = path.child('matchExpressions').index(i).child('values');
    const count = expr.values?.length ?? 0;
    if ((expr.operator === 'In' || expr.operator === 'NotIn') && count === 0) {
      errors.push(required(valuesPath, "must be specified when `operator` is 'In' or 'NotIn'"));
    }
    if ((expr.operator === 'Exists' || expr.operator === 'DoesNotExist') && count > 0) {
      errors.push(forbidden(valuesPath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    }
  });
  return errors;
}

/**
 * A matcher for a structured selector. `undefined` matches nothing (as in
 * Kubernetes); `{}` matches everything. Throws `ApiError('BadRequest')` on
 * a selector that does not validate.
 */
export function labelSelectorFromObject(selector: LabelSelector | undefined): Selector {
  if (selector === undefined) return Selector.nothing();
  const errors = labelSelectorErrors(selector, FieldPath.root('selector'));
  if (errors.length > 0) throw new ApiError('BadRequest', `invalid label selector: ${errors[0].message}`);
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: 'In',
    values: [value],
  }));
  for (const expr of selector.matchExpressions ?? []) {
    requirements.push({ key: expr.key, operator: expr.operator, values: expr.values ?? [] });
  }
  return Selector.of(requirements);
}

/** `{app: web}` -> the selector `app=web` (a Service's `spec.selector`). `{}` matches everything. */
export function selectorFromSet(labels: Readonly<Record<string, string>>): Selector {
  return Selector.of(Object.entries(labels).map(([key, value]) => ({ key, operator: 'In', values: [value] })));
}

/** Whether `labels` match a structured selector (undefined matches nothing). */
export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  return labelSelectorFromObject(selector).matches(labels);
}

/** A structured selector in string form, as `kubectl get -o wide` shows it: `app=web,tier in (a,b)`. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  return labelSelectorFromObject(selector).toString();
}

// ---- field selectors ------------------------------------------------------

export type FieldOperator = '=' | '!=';

export interface FieldRequirement {
  field: string;
  operator: FieldOperator;
  value: string;
}

const COMMON_FIELDS = ['metadata.name', 'metadata.namespace'];
const FIELDS_BY_KIND: Partial<Record<KindName, readonly string[]>> = {
  Pod: [...COMMON_FIELDS, 'spec.nodeName', 'status.phase'],
  Node: [...COMMON_FIELDS, 'spec.unschedulable'],
  Secret: [...COMMON_FIELDS, 'type'],
  Event: [
    ...COMMON_FIELDS,
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'reason',
    'type',
  ],
};

/** The fields a kind can be selected on. */
export function supportedFieldSelectors(kind: KindName | string): readonly string[] {
  return FIELDS_BY_KIND[kind as KindName] ?? COMMON_FIELDS;
}

/** The value of a field as a field selector sees it: missing is `""`, booleans and numbers as text. */
export function fieldValue(obj: unknown, field: string): string {
  return valueAt(obj, field.split('.'), field);
}

function valueAt(obj: unknown, path: readonly string[], field: string): string {
  let cur: unknown = obj;
  for (const part of path) cur = isObject(cur) ? cur[part] : undefined;
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
  return field === 'spec.unschedulable' ? 'false' : '';
}

export class FieldSelector {
  /** Each requirement's field split at the dots once: a watch tests every event against it. */
  private readonly paths: readonly (readonly string[])[];

  constructor(readonly requirements: readonly FieldRequirement[]) {
    this.paths = requirements.map((r) => r.field.split('.'));
  }

  matches(obj: unknown): boolean {
    return this.requirements.every((r, i) => (valueAt(obj, this.paths[i], r.field) === r.value) === (r.operator === '='));
  }

  isEverything(): boolean {
    return this.requirements.length === 0;
  }

  /** The value `field` must equal, if the selector says so (lets a server narrow a scan, e.g. by `spec.nodeName`). */
  requiredValue(field: string): string | undefined {
    return this.requirements.find((r) => r.field === field && r.operator === '=')?.value;
  }

  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
  }
}

function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

function fieldSelectorError(text: string, problem: string): ApiError {
  return new ApiError('BadRequest', `invalid field selector ${JSON.stringify(text)}: ${problem}`);
}

/** Splits on unescaped commas, keeping escapes in the parts. */
function splitUnescaped(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      current += c + (text[i + 1] ?? '');
      i++;
    } else if (c === ',') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(text: string, raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\') {
      const n = raw[i + 1];
      if (n !== '\\' && n !== ',' && n !== '=') {
        throw fieldSelectorError(text, `invalid escape sequence "\\${n ?? ''}" in value "${raw}" (a backslash may only escape "\\", "," or "=")`);
      }
      out += n;
      i++;
    } else if (c === '=' || c === ',') {
      throw fieldSelectorError(text, `unescaped "${c}" in value ${JSON.stringify(raw)}`);
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Parses `metadata.name=web,status.phase!=Running,spec.nodeName==node-1`.
 * With `kind`, only that kind's fields are accepted (see
 * `supportedFieldSelectors`). Throws `ApiError('BadRequest')`.
 */
export function parseFieldSelector(text: string, kind?: KindName | string): FieldSelector {
  if (text.length > MAX_SELECTOR_CHARS) throw fieldSelectorError(text.slice(0, 40), `longer than ${MAX_SELECTOR_CHARS} characters`);
  if (text.trim() === '') return new FieldSelector([]);
  const requirements: FieldRequirement[] = [];
  for (const part of splitUnescaped(text)) {
    const m = /^\s*([A-Za-z0-9_.]*)\s*(!=|==|=)(.*)$/s.exec(part);
    if (!m) throw fieldSelectorError(text, `${JSON.stringify(part)} is not <field>=<value>, <field>==<value> or <field>!=<value>`);
    const [, field, op, rawValue] = m;
    if (field === '') throw fieldSelectorError(text, `missing field name in ${JSON.stringify(part)}`);
    if (kind !== undefined) {
      const supported = supportedFieldSelectors(kind);
      if (!supported.includes(field)) {
        throw fieldSelectorError(
          text,
          `field ${JSON.stringify(field)} is not supported for ${kind}: supported fields are ${supported.map((f) => JSON.stringify(f)).join(', ')}`,
        );
      }
    }
    requirements.push({ field, operator: op === '!=' ? '!=' : '=', value: unescapeFieldValue(text, rawValue.trim()) });
  }
  return new FieldSelector(requirements);
}
