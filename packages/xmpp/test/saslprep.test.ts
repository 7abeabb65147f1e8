import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { saslprep } from '../src/internal/saslprep.ts';

const reference = createRequire(import.meta.url)('saslprep') as (input: string) => string;

describe('saslprep (RFC 4013)', () => {
  // Printable ASCII takes the fast path; everything else goes through the library. Both must
  // agree with the library on every row (RFC 4013 §3 examples included).
  const rows: readonly string[] = [
    '',
    'secret',
    'user',
    'USER',
    'a b~!@#$%^&*()_+{}|:"<>?`-=[]\\;\',./',
    ' leading and trailing ',
    'I\u00ADX', // RFC 4013 §3 row 1: soft hyphen mapped to nothing
    '\u00AA', // RFC 4013 §3 row 3: NFKC to "a"
    '\u2168', // RFC 4013 §3 row 4: NFKC to "IX"
    'caf\u00E9',
    'no\u00A0break', // non-ASCII space mapped to SPACE
  ];
  it.each(rows)('%j: same result as the library', (input) => {
    expect(saslprep(input)).toBe(reference(input));
  });

  it.each(['\u0007', 'tab\there', 'del\u007F', '\u0627\u0031'])(
    '%j: prohibited or bidi-invalid input throws, as the library (RFC 4013 §3 rows 5, 6)',
    (input) => {
      expect(() => reference(input)).toThrow();
      expect(() => saslprep(input)).toThrow();
    },
  );
});
