import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBinary } from '../../src/internal/compareBinary.ts';

describe('compareBinary (Erlang binary order of UTF-8 strings)', () => {
  it('has the sign of a byte-wise comparison of the UTF-8 encodings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        expect(Math.sign(compareBinary(a, b))).toBe(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['\uFA0E', '\u{20000}', -1],
    ['a', 'a.b', -1],
    ['\u{20000}', '\u{20001}', -1],
    ['b', 'a', 1],
    ['x', 'x', 0],
  ] as const)('compareBinary(%j, %j) has sign %i', (a, b, sign) => {
    expect(Math.sign(compareBinary(a, b))).toBe(sign);
  });
});
