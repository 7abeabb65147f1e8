import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configureJidCache, DEFAULTS, InvalidJidError, type Jid, jid, parseJid } from '../src/index.ts';

function parts(j: Jid): [string, string, string, string, string, string] {
  return [j.local, j.domain, j.resource, j.luser, j.lserver, j.lresource];
}

function failure(input: string): Pick<InvalidJidError, 'part' | 'reason' | 'codePoint'> {
  try {
    parseJid(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidJidError);
    const err = e as InvalidJidError;
    return { part: err.part, reason: err.reason, codePoint: err.codePoint };
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('parseJid: RFC 7622 §3.2 splitting (before preparation)', () => {
  // [input, local, domain, resource]
  const rows: [string, string, string, string][] = [
    ['example.com', '', 'example.com', ''],
    ['juliet@example.com', 'juliet', 'example.com', ''],
    ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
    ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'], // RFC 7622 §3.5 valid
    ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'], // '@' after the first '/'
    ['example.com/foobar', '', 'example.com', 'foobar'],
    ['a.example.com/b@example.net', '', 'a.example.com', 'b@example.net'], // RFC 7622 §3.5
    ['a@b/c/d@e', 'a', 'b', 'c/d@e'], // first '/' wins, then first '@' before it
    ['a@b/@', 'a', 'b', '@'],
    ['a@b//', 'a', 'b', '/'],
  ];
  it.each(rows)('%j splits into [%j, %j, %j]', (input, local, domain, resource) => {
    const j = parseJid(input);
    expect([j.local, j.domain, j.resource]).toEqual([local, domain, resource]);
    expect(j.toString()).toBe(input);
  });

  // RFC 7622 §3.2 / §3.1: an empty part after a present separator, or no domain.
  const invalid: [string, string, string][] = [
    ['@example.com', 'local', 'empty'],
    ['juliet@', 'domain', 'empty'],
    ['juliet@example.com/', 'resource', 'empty'],
    ['/foobar', 'domain', 'empty'],
    ['', 'domain', 'empty'],
    ['@', 'local', 'empty'],
    ['@/', 'resource', 'empty'],
    ['a@/r', 'domain', 'empty'],
    ['juliet@@example.com', 'domain', 'prohibited_character'], // domain "@example.com"
    ['a@b@c', 'domain', 'prohibited_character'], // @xmpp/jid accepts this with domain "b@c"
  ];
  it.each(invalid)('%j is refused (%s, %s)', (input, part, reason) => {
    expect(failure(input)).toMatchObject({ part, reason });
  });
});

describe('parseJid: preparation (RFC 3920 appendices A and B, RFC 3491) as ejabberd', () => {
  // [input, prepared string, note]
  const rows: [string, string, string][] = [
    ['Juliet@Example.COM/Balcony', 'juliet@example.com/Balcony', 'case folded except the resource'],
    ['fußball@example.com', 'fussball@example.com', 'sharp s folds to ss (B.2)'],
    ['ſtraße@EXAMPLE.com', 'strasse@example.com', 'long s and sharp s'],
    [
      'ｆｕｌｌ@ｅｘａｍｐｌｅ.com/Ｐｈｏｎｅ',
      'full@example.com/Phone',
      'fullwidth letters (NFKC), resource keeps case',
    ],
    ['ﬁsh@example.com/ﬂ', 'fish@example.com/fl', 'ligatures (NFKC)'],
    ['Σ@example.com/foo', 'σ@example.com/foo', 'RFC 7622 §3.5 example'],
    ['ς@example.com/foo', 'σ@example.com/foo', 'final sigma folds to sigma under B.2 (PRECIS keeps ς)'],
    ['π@example.com', 'π@example.com', 'RFC 7622 §3.5 example'],
    ['king@example.com/♚', 'king@example.com/♚', 'RFC 7622 §3.5 example'],
    [
      'henry\u2163@example.com',
      'henryiv@example.com',
      'Ⅳ: NFKC gives "IV" under stringprep (PRECIS refuses it)',
    ],
    ['a\u00adb@example.com', 'ab@example.com', 'soft hyphen removed (B.1)'],
    ['a\u200bb@x/r\u200bs', 'ab@x/rs', 'zero width space removed (B.1) in local and resource'],
    ['x@x/\u2163', 'x@x/IV', 'resourceprep applies NFKC, no case folding'],
    ['x@x/a\u00a0b', 'x@x/a b', 'NBSP becomes a space under NFKC; resourceprep allows spaces'],
    ['example.com.', 'example.com', 'trailing dot removed (RFC 6122 §2.2)'],
    ['Example.COM', 'example.com', 'domain lowercased'],
    ['BÜCHER.example', 'bücher.example', 'unicode domain (nameprep)'],
    ['xn--bcher-kva.example', 'bücher.example', 'A-label decoded to the U-label (IDNA ToUnicode)'],
    ['XN--BCHER-KVA.example.', 'bücher.example', 'A-label in capitals, trailing dot'],
    ['example\u3002com', 'example.com', 'ideographic full stop separates labels (RFC 3490 §3.1)'],
    ['a@ｅｘａｍｐｌｅ．ｃｏｍ', 'a@example.com', 'fullwidth domain and fullwidth full stop'],
    ['u@127.0.0.1', 'u@127.0.0.1', 'IPv4 address'],
    ['u@[::1]/r', 'u@[::1]/r', 'IPv6 literal kept'],
    ['u@[2001:DB8::1]', 'u@[2001:db8::1]', 'IPv6 literal lowercased'],
    ['u@[FE80::1%ETH0]', 'u@[fe80::1%eth0]', 'IPv6 literal with a zone id (as ejabberd)'],
    ['u@[192.0.2.1]', 'u@[192.0.2.1]', 'IPv4 literal in brackets (as ejabberd)'],
    ['u@[::1].', 'u@[::1]', 'IP literal, trailing dot'],
    ['x@ex_ample.com', 'x@ex_ample.com', "'_' in a label (as ejabberd: no STD3 rules)"],
    ['x@-a.com', 'x@-a.com', 'leading hyphen (as ejabberd)'],
    ['x@a-.com', 'x@a-.com', 'trailing hyphen (as ejabberd)'],
    ['x@example.com:5222', 'x@example.com:5222', "':' (as ejabberd)"],
    ['x@\u2474.example', 'x@(1).example', 'compatibility mapping to "(1)" (as ejabberd)'],
    ['x@\u2488', 'x@1', '⒈ is "1." after NFKC: the trailing dot is removed'],
    ['x@a\u2024b', 'x@a.b', 'one dot leader is "." after NFKC: two labels'],
    ['x@xn--ü.example', 'x@xn--ü.example', 'not an A-label: kept as given (as ejabberd)'],
    ['x@xn--.example', 'x@xn--.example', 'not an A-label: kept (as ejabberd)'],
    ['x@xn--bcher-kva9999999.example', 'x@xn--bcher-kva9999999.example', 'bad Punycode: kept (as ejabberd)'],
    ['x@xn--abc.example', 'x@xn--abc.example', 'decodes to ASCII: not an A-label, kept'],
    ['\u05d0\u05d1@x', '\u05d0\u05d1@x', 'RandALCat only (RFC 3454 §6)'],
    ['\u05d01\u05d1@x', '\u05d01\u05d1@x', 'RandALCat first and last, a neutral digit inside'],
    ['u@\u05d0\u05d1.example', 'u@\u05d0\u05d1.example', 'bidi applies per label'],
    ['x@x/\uf951', 'x@x/\u964b', 'CJK compatibility ideograph, NFKC'],
    ['x@x/\u{2f868}', 'x@x/\u{2136a}', 'Unicode 3.2 NFKC (normalisation correction, generated table)'],
  ];
  it.each(rows)('%j prepares to %j (%s)', (input, prepared) => {
    const j = parseJid(input);
    expect(j.toPreparedString()).toBe(prepared);
    expect(j.toString()).toBe(input);
  });

  const invalid: [string, string, string, number | undefined][] = [
    ['foo bar@example.com', 'local', 'prohibited_character', 0x20], // RFC 7622 §3.5 invalid
    ['a"b@x', 'local', 'prohibited_character', 0x22],
    ['a&b@x', 'local', 'prohibited_character', 0x26],
    ["a'b@x", 'local', 'prohibited_character', 0x27],
    ['a:b@x', 'local', 'prohibited_character', 0x3a],
    ['a<b@x', 'local', 'prohibited_character', 0x3c],
    ['a>b@x', 'local', 'prohibited_character', 0x3e],
    ['a＠b@x', 'local', 'prohibited_character', 0x40], // fullwidth @ becomes @ after NFKC
    ['a／b@x', 'local', 'prohibited_character', 0x2f],
    ['a\u0001@x', 'local', 'prohibited_character', 0x01], // C.2.1
    ['a\u00a0b@x', 'local', 'prohibited_character', 0x20], // NBSP is a space after NFKC: C.1.1
    ['a\u1680b@x', 'local', 'prohibited_character', 0x1680], // C.1.2 (no NFKC mapping)
    ['x@x/a\u1680b', 'resource', 'prohibited_character', 0x1680], // C.1.2 in resourceprep
    ['x@x/a\u0000', 'resource', 'prohibited_character', 0x00], // C.2.1
    ['x@x/a\u0085', 'resource', 'prohibited_character', 0x85], // C.2.2
    ['x@x/\ue000', 'resource', 'prohibited_character', 0xe000], // C.3 private use
    ['x@x/\ufffe', 'resource', 'prohibited_character', 0xfffe], // C.4 non-character
    ['x@x/\ud800', 'resource', 'prohibited_character', 0xd800], // C.5 lone surrogate
    ['x@x/\ufff9', 'resource', 'prohibited_character', 0xfff9], // C.6
    ['x@x/\u2ff0', 'resource', 'prohibited_character', 0x2ff0], // C.7
    ['x@x/\u200e', 'resource', 'prohibited_character', 0x200e], // C.8 (bidi step 1)
    ['x@x/\u{e0001}', 'resource', 'prohibited_character', 0xe0001], // C.9
    ['x@exa\u1680mple.com', 'domain', 'prohibited_character', 0x1680], // nameprep C.1.2
    ['x@exa\u00a0mple.com', 'domain', 'prohibited_character', 0x20], // NBSP → space, then STD3
    ['x@exa mple.com', 'domain', 'prohibited_character', 0x20], // ejabberd's grammar refuses whitespace
    ['x@exa\tmple.com', 'domain', 'prohibited_character', 0x09],
    ['x@exa\u0001mple.com', 'domain', 'prohibited_character', 0x01], // ejabberd keeps controls; XML cannot carry them
    ['x@exa\uff20mple.com', 'domain', 'prohibited_character', 0x40], // fullwidth @ → '@' after NFKC
    ['x@exa\uff0fmple.com', 'domain', 'prohibited_character', 0x2f], // fullwidth / → '/' after NFKC
    ['x@\u2024\u2024', 'domain', 'malformed', 0x2e], // one dot leaders: ".." after NFKC, empty labels
    ['\u05d0a\u05d1@x', 'local', 'bidi', 0x61], // RandALCat with LCat
    ['\u05d01@x', 'local', 'bidi', 0x31], // RandALCat not last
    ['1\u05d0@x', 'local', 'bidi', 0x31], // RandALCat not first
    ['x@x/\u05d0a', 'resource', 'bidi', 0x61],
    ['x@\u05d0a.example', 'domain', 'bidi', 0x61],
    ['\u0221@x', 'local', 'unassigned', 0x221], // A.1 (assigned in Unicode 4.0)
    ['x@x/\u{1f600}', 'resource', 'unassigned', 0x1f600], // emoji: unassigned in Unicode 3.2
    ['x@\u0221.example', 'domain', 'unassigned', 0x221],
    ['\u00ad@x', 'local', 'empty', undefined], // prepares to nothing
    ['x@x/\u200b', 'resource', 'empty', undefined],
    ['x@.', 'domain', 'empty', undefined],
    ['x@a..b', 'domain', 'malformed', 0x2e],
    ['x@.a', 'domain', 'malformed', 0x2e],
    ['x@[::1', 'domain', 'malformed', undefined], // an IP literal must hold an address
    ['x@[example.com]', 'domain', 'malformed', undefined],
    ['x@[1.2.3.4%eth0]', 'domain', 'malformed', undefined], // a zone id is for IPv6 only
    ['x@[fe80::1%]', 'domain', 'malformed', undefined],
    ['x@[fe80::1%a b]', 'domain', 'malformed', undefined],
  ];
  it.each(invalid)('%j is refused: %s %s %s', (input, part, reason, codePoint) => {
    expect(failure(input)).toEqual({ part, reason, codePoint });
  });
});

describe('lengths: 1..1023 bytes of UTF-8 per part (RFC 7622 §3.1)', () => {
  const max = DEFAULTS.maxPartBytes;
  const label = 'a'.repeat(63);
  const longDomain = Array.from({ length: 16 }, () => label).join('.'); // 1023 bytes
  it('accepts exactly 1023 bytes in each part', () => {
    expect(longDomain.length).toBe(max);
    const j = jid('a'.repeat(max), longDomain, 'r'.repeat(max));
    expect([j.luser.length, j.lserver.length, j.lresource.length]).toEqual([max, max, max]);
  });
  const rows: [string, string, string, string][] = [
    ['local, 1024 ASCII bytes', 'a'.repeat(max + 1), 'x', 'local'],
    ['local, 1026 bytes of é (2 bytes each)', '\u00e9'.repeat(513), 'x', 'local'],
    ['resource, 1024 bytes', 'x', 'x', 'resource'],
    ['domain, 1025 bytes', 'x', `${longDomain}.a`, 'domain'],
  ];
  it.each(rows)('refuses %s', (_name, local, domain, part) => {
    const resource = part === 'resource' ? 'r'.repeat(max + 1) : '';
    expect(() => jid(local, domain, resource)).toThrow(expect.objectContaining({ part, reason: 'too_long' }));
  });
  it('refuses before preparation too, as ejabberd (1 byte after NFKC, but 1026 raw)', () => {
    // 342 fullwidth letters: 3 bytes each raw, 1 byte each prepared.
    expect(() => jid('\uff41'.repeat(342), 'x')).toThrow(expect.objectContaining({ reason: 'too_long' }));
    expect(jid('\uff41'.repeat(341), 'x').luser).toBe('a'.repeat(341));
  });
  it('refuses after preparation (U+FDFA: 3 bytes raw, 33 bytes after NFKC)', () => {
    expect(Buffer.byteLength(jid('x', 'x', '\ufdfa'.repeat(31)).lresource)).toBe(1023);
    expect(() => jid('x', 'x', '\ufdfa'.repeat(32))).toThrow(
      expect.objectContaining({ part: 'resource', reason: 'too_long' }),
    );
  });
  it('accepts a domain label of any length, as ejabberd (an XMPP domainpart need not be a DNS name)', () => {
    expect(jid('', `${'a'.repeat(64)}.com`).lserver).toBe(`${'a'.repeat(64)}.com`);
    expect(jid('', `${'ü'.repeat(60)}.com`).lserver).toBe(`${'ü'.repeat(60)}.com`);
    expect(jid('', `${'a'.repeat(1019)}.com`).lserver).toHaveLength(1023);
  });
});

describe('Jid', () => {
  it('keeps raw and prepared parts, as #jid{}', () => {
    const j = parseJid('Juliet@Example.com/Balcony');
    expect(parts(j)).toEqual(['Juliet', 'Example.com', 'Balcony', 'juliet', 'example.com', 'Balcony']);
    expect(j.usr).toEqual(['juliet', 'example.com', 'Balcony']);
    expect(j.us).toEqual(['juliet', 'example.com']);
    expect(JSON.stringify({ to: j })).toBe('{"to":"Juliet@Example.com/Balcony"}');
  });
  it('is immutable', () => {
    const j = parseJid('a@b/c');
    expect(Object.isFrozen(j)).toBe(true);
    expect(() => {
      (j as { luser: string }).luser = 'z';
    }).toThrow(TypeError);
  });
  it('bare(), isBare(), withResource()', () => {
    const full = parseJid('A@B/R');
    const bare = full.bare();
    expect(parts(bare)).toEqual(['A', 'B', '', 'a', 'b', '']);
    expect([full.isBare(), bare.isBare()]).toEqual([false, true]);
    expect(bare.bare()).toBe(bare);
    expect(bare.toString()).toBe('A@B');
    expect(parseJid('b').isBare()).toBe(true);
    expect(bare.withResource('ｘ').lresource).toBe('x');
    expect(() => bare.withResource('\u0000')).toThrow(InvalidJidError);
  });
  it('equals() compares prepared parts', () => {
    expect(parseJid('FUSSBALL@Example.com.').equals(parseJid('fußball@example.com'))).toBe(true);
    expect(parseJid('a@b/R').equals(parseJid('a@b/r'))).toBe(false); // resource case kept
    expect(parseJid('a@b').equals(parseJid('a@b/r'))).toBe(false);
    expect(parseJid('a@xn--bcher-kva.example').equals(jid('A', 'BÜCHER.example'))).toBe(true);
  });
  it('jid() builds from raw parts; "" means absent', () => {
    expect(jid('', 'example.com').toString()).toBe('example.com');
    expect(jid('u', 'example.com', '').isBare()).toBe(true);
    expect(jid('u', 'd', 'r/with@chars').toString()).toBe('u@d/r/with@chars');
    expect(() => jid('u@v', 'd')).toThrow(expect.objectContaining({ part: 'local', codePoint: 0x40 }));
    expect(() => jid('u', 'd/x')).toThrow(expect.objectContaining({ part: 'domain', codePoint: 0x2f }));
  });
  it('checks local, then domain, then resource, as jid:make/3', () => {
    expect(failure('a b@/')).toMatchObject({ part: 'resource', reason: 'empty' }); // split first
    expect(() => jid('a b', '', '\u0000')).toThrow(expect.objectContaining({ part: 'local' }));
    expect(() => jid('a', '', '\u0000')).toThrow(expect.objectContaining({ part: 'domain' }));
  });
  it('never throws anything but InvalidJidError for non-strings from untyped callers', () => {
    for (const bad of [undefined, null, 42, {}]) {
      expect(() => parseJid(bad as unknown as string)).toThrow(InvalidJidError);
      expect(() => jid('a', bad as unknown as string)).toThrow(InvalidJidError);
    }
  });
});

describe('cache (DEFAULTS.cacheSize)', () => {
  it('returns the same instance for the same input while cached, equal ones without the cache', () => {
    configureJidCache();
    const a = parseJid('cache@example.com/x');
    expect(parseJid('cache@example.com/x')).toBe(a);
    configureJidCache({ size: 0 });
    const b = parseJid('cache@example.com/x');
    const c = parseJid('cache@example.com/x');
    expect(b).not.toBe(c);
    expect(b.equals(c)).toBe(true);
    configureJidCache();
  });
  it('evicts the least recently used entry', () => {
    configureJidCache({ size: 2 });
    const a = parseJid('a@x');
    parseJid('b@x');
    expect(parseJid('a@x')).toBe(a); // a is now most recent
    parseJid('c@x'); // evicts b
    expect(parseJid('a@x')).toBe(a);
    configureJidCache();
    expect(DEFAULTS.cacheSize).toBe(10_000);
  });
  it('does not cache failures as successes', () => {
    expect(() => parseJid('a b@x')).toThrow(InvalidJidError);
    expect(() => parseJid('a b@x')).toThrow(InvalidJidError);
  });
});

// Arbitraries for valid JIDs: parts drawn from a mixed alphabet (ASCII, Latin-1, Greek, Hebrew,
// fullwidth, ligatures, separators in the resource), kept when jid() accepts them.
const letters = [...'abcXYZ09-._~!', 'ß', 'é', 'Σ', 'ς', 'π', 'ｆ', 'Ａ', 'ﬁ', 'ü', '\u00ad', 'Ⅳ'];
const localChar = fc.constantFrom(...letters);
const resourceChar = fc.constantFrom(...letters, ' ', '@', '/', 'R', '\u05d0', '♚');
const domainLabel = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
const domainArb = fc.oneof(
  fc
    .array(fc.oneof(domainLabel, fc.constantFrom('bücher', 'ÉCOLE', 'xn--bcher-kva', 'παράδειγμα')), {
      minLength: 1,
      maxLength: 4,
    })
    .map((labels) => labels.join('.')),
  fc.constantFrom('[::1]', '[2001:db8::7]', '127.0.0.1', 'example.com.'),
);
function tryJid(local: string, domain: string, resource: string): Jid | undefined {
  try {
    return jid(local, domain, resource);
  } catch (e) {
    if (e instanceof InvalidJidError) return undefined;
    throw e;
  }
}
const validJid = fc
  .tuple(
    fc.string({ unit: localChar, maxLength: 12 }),
    domainArb,
    fc.string({ unit: resourceChar, maxLength: 12 }),
  )
  .map(([l, d, r]) => tryJid(l, d, r))
  .filter((j): j is Jid => j !== undefined);

describe('properties (fast-check)', () => {
  it('parseJid(j.toString()) round-trips every valid Jid, raw and prepared', () => {
    fc.assert(
      fc.property(validJid, (j) => {
        configureJidCache({ size: 0 }); // no shared instances: re-parse for real
        const back = parseJid(j.toString());
        expect(parts(back)).toEqual(parts(j));
        expect(back.equals(j)).toBe(true);
        configureJidCache();
      }),
      { numRuns: 500 },
    );
  });

  it('preparation is idempotent: the prepared string parses to itself', () => {
    fc.assert(
      fc.property(validJid, (j) => {
        expect(parseJid(j.toPreparedString()).toPreparedString()).toBe(j.toPreparedString());
      }),
      { numRuns: 500 },
    );
  });

  it('random strings never throw anything but InvalidJidError; results respect the limits', () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }), // any code point, lone surrogates included
      fc.string({
        unit: fc.constantFrom('a', '@', '/', '.', '[', ']', ':', ' ', 'x', 'n', '-'),
        maxLength: 20,
      }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
    );
    fc.assert(
      fc.property(anyString, (s) => {
        try {
          const j = parseJid(s);
          expect(j.lserver.length).toBeGreaterThan(0);
          for (const p of [j.luser, j.lserver, j.lresource]) {
            expect(Buffer.byteLength(p)).toBeLessThanOrEqual(DEFAULTS.maxPartBytes);
          }
        } catch (e) {
          if (!(e instanceof InvalidJidError)) throw e;
          expect(['local', 'domain', 'resource']).toContain(e.part);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
