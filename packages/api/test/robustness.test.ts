import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDefaults, applyManifest, ApiError, KINDS, parseManifests, validate } from '../src/index.js';

/** Objects of every kind with arbitrary JSON in their fields, at any depth. */
const hostile = fc.constantFrom(...KINDS).chain((k) =>
  fc.record({
    apiVersion: fc.oneof(fc.constant(k.apiVersion), fc.jsonValue()),
    kind: fc.constant(k.kind),
    metadata: fc.oneof(fc.record({ name: fc.constant('x') }), fc.jsonValue()),
    spec: fc.jsonValue(),
    status: fc.jsonValue(),
    data: fc.jsonValue(),
    subsets: fc.jsonValue(),
    involvedObject: fc.jsonValue(),
  }),
);

describe('hostile input', () => {
  it('validate, applyDefaults and applyManifest never throw on arbitrary JSON', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        expect(Array.isArray(validate(a))).toBe(true);
        expect(Array.isArray(validate(applyDefaults(a)))).toBe(true);
        const merged = applyManifest(applyDefaults(a), { ...b, kind: a.kind });
        expect(Array.isArray(validate(merged))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('validate never throws on arbitrary top-level values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(Array.isArray(validate(v))).toBe(true);
      }),
    );
  });

  it('parseManifests throws only ApiErrors on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseManifests(text, 'fuzz.yaml');
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a "__proto__" key is data, not a prototype', () => {
    const cm = JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"__proto__":"x"}}');
    expect(validate(cm)).toEqual([]);
    const out = applyDefaults(cm) as any;
    expect(Object.keys(out.data)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(out.data)).toBe(Object.prototype);
    expect(({} as any).polluted).toBeUndefined();
    const pod = JSON.parse('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","__proto__":{"polluted":1}},"spec":{"containers":[{"name":"c","command":["x"]}]}}');
    expect(validate(pod).map((e) => e.message)).toEqual(['metadata.__proto__: Unsupported field "__proto__"']);
  });

  it('aliases cannot blow up a manifest', () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(() => parseManifests(bomb, 'bomb.yaml')).toThrow('bomb.yaml (document 1): Excessive alias count indicates a resource exhaustion attack');
  });
});
