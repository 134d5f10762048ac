import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCpu, formatMemory, parseCpu, parseMemory, parseQuantity, parseQuantityValue, QuantityError, quantityErrors } from '../src/index.js';

describe('CPU in millicores', () => {
  it.each<[string | number, number]>([
    ['500m', 500],
    ['0.5', 500],
    [0.5, 500],
    ['1', 1000],
    [1, 1000],
    [2, 2000],
    ['2.5', 2500],
    ['100m', 100],
    ['1m', 1],
    ['0.0001', 1], // rounded up to a whole millicore, as Kubernetes does
    ['0.0015', 2],
    ['1e3', 1_000_000],
    ['1E-3', 1],
    ['1k', 1_000_000],
    ['.5', 500],
    ['5.', 5000],
    ['+1', 1000],
    ['0', 0],
    ['0m', 0],
    ['-1', -1000],
  ])('%s -> %d', (input, millicores) => {
    expect(parseCpu(input)).toBe(millicores);
  });
});

describe('memory in bytes', () => {
  it.each<[string | number, number]>([
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['1M', 1e6],
    ['1k', 1000],
    ['1Ki', 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['0.5Ki', 512],
    ['1e3', 1000],
    ['1e9', 1e9],
    [1e3, 1000],
    [134217728, 134217728],
    ['1Ti', 2 ** 40],
    ['4Pi', 4 * 2 ** 50],
    ['1500m', 2], // 1.5 bytes, rounded up
    ['0.1', 1],
  ])('%s -> %d', (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes);
  });

  it('counts (pods: "110")', () => {
    expect(parseQuantityValue('110')).toBe(110);
    expect(parseQuantityValue(110)).toBe(110);
  });
});

describe('bad quantities name the value', () => {
  it.each<[unknown, string]>([
    ['lots', 'quantity "lots" is invalid: expected a number with an optional suffix: m, k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), or an exponent such as e3'],
    ['1 Gi', 'quantity "1 Gi" is invalid: expected a number'],
    ['1gi', 'quantity "1gi" is invalid: expected a number'],
    ['1GB', 'quantity "1GB" is invalid: expected a number'],
    ['', 'quantity "" is invalid: must not be empty'],
    ['.', 'quantity "." is invalid: expected a number'],
    ['1e999', 'quantity "1e999" is invalid: exponent must be between -30 and 30'],
    ['9Ei', 'quantity "9Ei" is invalid: is too large'],
    [Number.POSITIVE_INFINITY, 'quantity "Infinity" is invalid: must be a finite number'],
    ['1'.repeat(65), 'must be at most 64 characters'],
  ])('%s', (input, message) => {
    expect(() => parseMemory(input as string)).toThrow(QuantityError);
    expect(() => parseMemory(input as string)).toThrow(message);
  });

  it('quantityErrors returns the reason without the prefix (for field errors)', () => {
    expect(quantityErrors('500m')).toEqual([]);
    expect(quantityErrors(true)).toEqual(['must be a string or a number']);
    expect(quantityErrors('1 core')[0]).toMatch(/^expected a number with an optional suffix/);
  });

  it('parseQuantity reports the format', () => {
    expect(parseQuantity('1Gi').format).toBe('BinarySI');
    expect(parseQuantity('1G').format).toBe('DecimalSI');
    expect(parseQuantity('1e9').format).toBe('DecimalExponent');
    expect(parseQuantity('-0').negative).toBe(false);
  });
});

describe('formatting', () => {
  it.each<[number, string]>([
    [500, '500m'],
    [1000, '1'],
    [2500, '2500m'],
    [0, '0'],
  ])('cpu %d -> %s', (m, text) => expect(formatCpu(m)).toBe(text));

  it.each<[number, string]>([
    [128 * 2 ** 20, '128Mi'],
    [2 ** 30, '1Gi'],
    [1e9, '1G'],
    [1536, '1536'],
    [1536 * 1024, '1536Ki'],
    [1000, '1k'],
    [0, '0'],
    [7, '7'],
  ])('memory %d -> %s', (b, text) => expect(formatMemory(b)).toBe(text));

  it('format then parse is the identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (n) => {
        expect(parseCpu(formatCpu(n))).toBe(n);
        expect(parseMemory(formatMemory(n))).toBe(n);
      }),
    );
  });
});
