import { describe, expect, it } from 'vitest';
import {
  ApiError,
  formatLabelSelector,
  labelSelectorFromObject,
  matchesLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  Selector,
  selectorFromSet,
} from '../src/index.js';

describe('label selector strings: parse and print', () => {
  it.each<[string, string]>([
    ['', ''],
    ['app=web', 'app=web'],
    ['app==web', 'app=web'],
    ['app = web', 'app=web'],
    ['tier!=db', 'tier!=db'],
    ['env in (prod,staging)', 'env in (prod,staging)'],
    ['env in ( staging , prod )', 'env in (prod,staging)'],
    ['env notin (dev)', 'env!=dev'],
    ['env notin (dev,test)', 'env notin (dev,test)'],
    ['release', 'release'],
    ['!legacy', '!legacy'],
    ['app=web,tier!=db,env in (prod,staging),!legacy,release', 'app=web,env in (prod,staging),!legacy,release,tier!=db'],
    ['bramble.io/role=edge', 'bramble.io/role=edge'],
    ['app=', 'app='],
    ['in=notin', 'in=notin'],
  ])('%j -> %j', (text, printed) => {
    const s = parseLabelSelector(text);
    expect(s.toString()).toBe(printed);
    expect(parseLabelSelector(s.toString()).requirements).toEqual(s.requirements);
  });
});

describe('label selector matching', () => {
  const web = { app: 'web', tier: 'front', env: 'prod' };
  const db = { app: 'db', tier: 'db' };
  const none = {};
  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['', web, true],
    ['', undefined, true],
    ['app=web', web, true],
    ['app=web', db, false],
    ['app=web', none, false],
    ['tier!=db', web, true],
    ['tier!=db', db, false],
    ['tier!=db', none, true], // != matches objects without the label
    ['env in (prod,staging)', web, true],
    ['env in (prod,staging)', db, false],
    ['env notin (prod)', web, false],
    ['env notin (prod)', db, true],
    ['app', web, true],
    ['app', none, false],
    ['!env', web, false],
    ['!env', db, true],
    ['app=web,env in (prod),!legacy,tier', web, true],
    ['app=web,env in (prod),!legacy,tier', { ...web, legacy: 'true' }, false],
    ['app=', { app: '' }, true],
    ['app=', web, false],
  ])('%j on %j -> %s', (text, labels, expected) => {
    expect(parseLabelSelector(text).matches(labels)).toBe(expected);
  });
});

describe('label selector errors say what and where', () => {
  it.each<[string, string]>([
    ['app in (web', 'invalid label selector "app in (web": expected "," or ")" in the values of "in", found end of input at position 12 (end of input)'],
    ['app in web', 'invalid label selector "app in web": expected "(" after "in", found "web" at position 8'],
    ['env in ()', 'invalid label selector "env in ()": the set of values for "in" can\'t be empty at position 9'],
    ['=web', 'invalid label selector "=web": expected a label key, found "=" at position 1'],
    ['app=web,', 'invalid label selector "app=web,": expected a label key, found end of input at position 9 (end of input)'],
    ['app web', 'invalid label selector "app web": expected an operator (=, ==, !=, in, notin) or "," after label "app", found "web" at position 5'],
    ['app=web tier=db', 'invalid label selector "app=web tier=db": expected "," or end of input after a requirement, found "tier" at position 9'],
    ['replicas>3', 'invalid label selector "replicas>3": operator ">" is not supported (use =, ==, !=, in, notin, key or !key) at position 9'],
    ['app=a b', 'invalid label selector "app=a b": expected "," or end of input after a requirement, found "b" at position 7'],
    ['app=-web', 'invalid label selector "app=-web": invalid value "-web" for label "app": a valid label must be an empty string'],
    ['Bad_Key_=x', 'invalid label selector "Bad_Key_=x": invalid label key "Bad_Key_": name part must consist of'],
    ['a/b/c', 'invalid label selector "a/b/c": invalid label key "a/b/c": a qualified name must consist of'],
    ['!', 'invalid label selector "!": expected a label key, found end of input at position 2 (end of input)'],
  ])('%j', (text, message) => {
    expect(() => parseLabelSelector(text)).toThrow(ApiError);
    expect(() => parseLabelSelector(text)).toThrow(message);
  });
});

describe('structured LabelSelector', () => {
  it('matchLabels and matchExpressions are ANDed', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['prod', 'staging'] }, { key: 'legacy', operator: 'DoesNotExist' as const }] };
    expect(matchesLabelSelector(sel, { app: 'web', env: 'prod' })).toBe(true);
    expect(matchesLabelSelector(sel, { app: 'web', env: 'dev' })).toBe(false);
    expect(matchesLabelSelector(sel, { app: 'web', env: 'prod', legacy: 'y' })).toBe(false);
    expect(formatLabelSelector(sel)).toBe('app=web,env in (prod,staging),!legacy');
  });

  it('the string and structured forms agree', () => {
    const fromString = parseLabelSelector('app=web,tier notin (db,cache),release,!legacy');
    const fromObject = labelSelectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'NotIn', values: ['cache', 'db'] },
        { key: 'release', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(fromObject.requirements).toEqual(fromString.requirements);
  });

  it('an empty selector matches everything, a missing one nothing', () => {
    expect(labelSelectorFromObject({}).matches({ any: 'thing' })).toBe(true);
    expect(labelSelectorFromObject({}).isEverything()).toBe(true);
    expect(labelSelectorFromObject(undefined).matches({})).toBe(false);
    expect(labelSelectorFromObject(undefined).toString()).toBe('<none>');
    expect(Selector.nothing().isNothing()).toBe(true);
  });

  it('rejects In without values and Exists with values', () => {
    expect(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toThrow(
      "invalid label selector: selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    );
    expect(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })).toThrow(
      "selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    );
  });

  it('selectorFromSet is what a Service selector means', () => {
    expect(selectorFromSet({ app: 'web', tier: 'front' }).matches({ app: 'web', tier: 'front', x: 'y' })).toBe(true);
    expect(selectorFromSet({ app: 'web', tier: 'front' }).matches({ app: 'web' })).toBe(false);
    expect(selectorFromSet({}).isEverything()).toBe(true);
  });
});

describe('field selectors', () => {
  const pod = {
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default' },
    spec: { nodeName: 'pi-1' },
    status: { phase: 'Running' },
  };
  const pending = { kind: 'Pod', metadata: { name: 'web-2', namespace: 'default' }, spec: {}, status: { phase: 'Pending' } };

  it.each<[string, object, boolean]>([
    ['', pod, true],
    ['metadata.name=web-1', pod, true],
    ['metadata.name==web-1', pod, true],
    ['metadata.name!=web-1', pod, false],
    ['metadata.namespace=default,status.phase=Running', pod, true],
    ['spec.nodeName=pi-1', pod, true],
    ['spec.nodeName=pi-1', pending, false],
    ['spec.nodeName=', pending, true], // unscheduled pods, as the scheduler asks for them
    ['spec.nodeName!=', pod, true],
    ['status.phase!=Running', pending, true],
    ['status.phase!=Running,status.phase!=Pending', pending, false],
    [' metadata.name = web-1 ', pod, true],
  ])('%j', (text, obj, expected) => {
    expect(parseFieldSelector(text, 'Pod').matches(obj)).toBe(expected);
  });

  it('prints, escapes and exposes required values', () => {
    const s = parseFieldSelector('metadata.name=a\\,b,spec.nodeName==pi-1');
    expect(s.requirements).toEqual([
      { field: 'metadata.name', operator: '=', value: 'a,b' },
      { field: 'spec.nodeName', operator: '=', value: 'pi-1' },
    ]);
    expect(s.toString()).toBe('metadata.name=a\\,b,spec.nodeName=pi-1');
    expect(s.requiredValue('spec.nodeName')).toBe('pi-1');
    expect(s.requiredValue('status.phase')).toBeUndefined();
  });

  it('supports Event involvedObject fields and Node spec.unschedulable', () => {
    const ev = { kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'web-1' } };
    expect(parseFieldSelector('involvedObject.name=web-1,involvedObject.kind=Pod', 'Event').matches(ev)).toBe(true);
    expect(parseFieldSelector('spec.unschedulable=false', 'Node').matches({ metadata: { name: 'n' } })).toBe(true);
    expect(parseFieldSelector('spec.unschedulable=true', 'Node').matches({ metadata: { name: 'n' }, spec: { unschedulable: true } })).toBe(true);
  });

  it.each<[string, string | undefined, string]>([
    ['spec.foo=x', 'Pod', 'invalid field selector "spec.foo=x": field "spec.foo" is not supported for Pod: supported fields are "metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"'],
    ['spec.nodeName=x', 'Service', 'field "spec.nodeName" is not supported for Service: supported fields are "metadata.name", "metadata.namespace"'],
    ['metadata.name', 'Pod', 'invalid field selector "metadata.name": "metadata.name" is not <field>=<value>, <field>==<value> or <field>!=<value>'],
    ['=x', undefined, 'invalid field selector "=x": missing field name in "=x"'],
    ['metadata.name=a=b', undefined, 'invalid field selector "metadata.name=a=b": unescaped "=" in value "a=b"'],
    ['metadata.name=a\\b', undefined, 'invalid escape sequence "\\b" in value "a\\b"'],
    ['status.phase in (Running)', 'Pod', 'is not <field>=<value>'],
  ])('%j is refused', (text, kind, message) => {
    expect(() => parseFieldSelector(text, kind)).toThrow(ApiError);
    expect(() => parseFieldSelector(text, kind)).toThrow(message);
  });
});
