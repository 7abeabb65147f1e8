import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeLocal, InvalidJidError, nodeprep, unescapeLocal } from '../src/index.ts';

describe('XEP-0106 escaping', () => {
  // XEP-0106 §4.4 examples (unescaped localpart → escaped localpart).
  const rows: [string, string][] = [
    ['space cadet', 'space\\20cadet'],
    ['call me "ishmael"', 'call\\20me\\20\\22ishmael\\22'],
    ['at&t guy', 'at\\26t\\20guy'],
    ["d'artagnan", 'd\\27artagnan'],
    ['/.fanboy', '\\2f.fanboy'],
    ['::foo::', '\\3a\\3afoo\\3a\\3a'],
    ['<foo>', '\\3cfoo\\3e'],
    ['user@host', 'user\\40host'],
    ['c:\\net', 'c\\3a\\net'], // '\n' is not an escape sequence: the backslash stays
    ['c:\\\\net', 'c\\3a\\\\net'],
    ['c:\\cool stuff', 'c\\3a\\cool\\20stuff'],
    ['c:\\5commas', 'c\\3a\\5c5commas'], // '\5c' is one: the backslash is escaped
    ['plain', 'plain'],
  ];
  it.each(rows)('escapeLocal(%j) = %j and back', (raw, escaped) => {
    expect(escapeLocal(raw)).toBe(escaped);
    expect(unescapeLocal(escaped)).toBe(raw);
    expect(nodeprep(escaped)).toBe(escaped.toLowerCase()); // the escaped form is a valid localpart
  });

  it('refuses a leading or trailing space (XEP-0106 §4.3)', () => {
    for (const s of [' a', 'a ', ' ']) {
      expect(() => escapeLocal(s)).toThrow(
        expect.objectContaining({ part: 'local', reason: 'malformed', codePoint: 0x20 }),
      );
    }
  });

  it('unescapeLocal leaves unknown sequences and uppercase hex alone', () => {
    expect(unescapeLocal('a\\41b\\2F')).toBe('a\\41b\\2F');
  });

  it('unescapeLocal(escapeLocal(s)) === s for any s without leading or trailing space (fast-check)', () => {
    const s = fc
      .string({ unit: fc.constantFrom(...'ab \\"&\'/:<>@25cf0'), maxLength: 16 })
      .filter((x) => x.trim() === x);
    fc.assert(
      fc.property(s, (x) => {
        expect(unescapeLocal(escapeLocal(x))).toBe(x);
      }),
      { numRuns: 1000 },
    );
  });

  it('throws InvalidJidError for non-strings', () => {
    expect(() => escapeLocal(1 as unknown as string)).toThrow(InvalidJidError);
    expect(() => unescapeLocal(null as unknown as string)).toThrow(InvalidJidError);
  });
});
