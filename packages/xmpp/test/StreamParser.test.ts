import type { Element } from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/DEFAULTS.ts';
import type { StreamError } from '../src/errors.ts';
import { StreamParser, type StreamParserOptions } from '../src/StreamParser.ts';

const HEADER =
  "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

interface Recorded {
  starts: Element[];
  elements: Element[];
  ended: number;
  errors: StreamError[];
}

function record(options: StreamParserOptions = {}) {
  const r: Recorded = { starts: [], elements: [], ended: 0, errors: [] };
  const parser = new StreamParser(
    {
      onStreamStart: (h) => r.starts.push(h),
      onElement: (e) => r.elements.push(e),
      onStreamEnd: () => r.ended++,
      onError: (e) => r.errors.push(e),
    },
    options,
  );
  return { r, parser };
}

describe('StreamParser', () => {
  it('reports the header, each top-level stanza and the end (RFC 6120 §4.2, §4.4)', () => {
    const { r, parser } = record();
    parser.write(HEADER);
    parser.write("<message to='b@localhost'><body>hi &amp; bye</body></message> \n");
    parser.write('<presence/></stream:stream>');
    expect(r.starts.map((h) => h.attrs.to)).toEqual(['localhost']);
    expect(r.elements.map((e) => e.name)).toEqual(['message', 'presence']);
    expect(r.elements[0]!.getChildText('body')).toBe('hi & bye');
    expect(r.elements[0]!.parent ?? undefined).toBeUndefined();
    expect(r.ended).toBe(1);
    expect(r.errors).toEqual([]);
  });

  it('a stream header at stanza level is a stream restart (RFC 6120 §4.3.3)', () => {
    const { r, parser } = record();
    parser.write(`${HEADER}<auth/>${HEADER}<iq type='set' id='1'/>`);
    expect(r.starts).toHaveLength(2);
    expect(r.elements.map((e) => e.name)).toEqual(['auth', 'iq']);
  });

  it('reassembles stanzas split at any byte, multi-byte UTF-8 included (property)', () => {
    const doc = `${HEADER}<message><body>żółć — 😀</body></message><iq id='a'><ping xmlns='urn:xmpp:ping'/></iq>`;
    const bytes = Buffer.from(doc);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 }), (cuts) => {
        const { r, parser } = record({ sliceBytes: 7 });
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        for (let i = 0; i + 1 < points.length; i++) parser.write(bytes.subarray(points[i]!, points[i + 1]!));
        expect(r.errors).toEqual([]);
        expect(r.elements.map((e) => e.toString())).toEqual([
          '<message><body>żółć — 😀</body></message>',
          '<iq id="a"><ping xmlns="urn:xmpp:ping"/></iq>',
        ]);
      }),
      { numRuns: 300 },
    );
  });

  const malformed: Array<[string, string, string]> = [
    ['mismatched close tag', `${HEADER}<message></iq>`, 'not-well-formed'],
    ['text before the header', 'hello<stream:stream>', 'not-well-formed'],
    ['text between stanzas', `${HEADER}<presence/>garbage<presence/>`, 'not-well-formed'],
    ['unknown entity', `${HEADER}<message><body>&foo;</body></message>`, 'not-well-formed'],
    ['illegal character reference', `${HEADER}<message><body>&#0;</body></message>`, 'not-well-formed'],
  ];
  it.each(malformed)('malformed XML: %s → %s', (_name, input, condition) => {
    const { r, parser } = record();
    parser.write(input);
    expect(r.errors.map((e) => e.condition)).toEqual([condition]);
    expect(parser.closed).toBe(true);
    const seen = r.elements.length;
    parser.write('<presence/>');
    expect(r.elements).toHaveLength(seen);
  });

  it('garbage bytes at stream level are refused at once, without waiting for a <', () => {
    const { r, parser } = record();
    parser.write(HEADER);
    parser.write('\x00\x01 garbage');
    expect(r.errors.map((e) => e.condition)).toEqual(['not-well-formed']);
  });

  it.each([
    ['a comment', '<!-- hi -->'],
    ['a comment split after <!', '<!'],
    ['a DTD', '<!DOCTYPE x>'],
  ])('%s → restricted-xml (RFC 6120 §11.1)', (_n, input) => {
    const { r, parser } = record();
    parser.write(HEADER);
    parser.write(input);
    if (input === '<!') parser.write('-- x -->');
    expect(r.errors.map((e) => e.condition)).toEqual(['restricted-xml']);
  });

  it('the XML declaration is accepted split at any point, before the first and a restarted header', () => {
    for (let cut = 1; cut < 22; cut++) {
      const { r, parser } = record();
      const doc = `${HEADER}<auth/>${HEADER}<iq/>`;
      parser.write(doc.slice(0, cut));
      parser.write(doc.slice(cut, cut + 90));
      parser.write(doc.slice(cut + 90));
      expect(r.errors).toEqual([]);
      expect(r.starts).toHaveLength(2);
      expect(r.elements.map((e) => e.name)).toEqual(['auth', 'iq']);
    }
  });

  it('invalid UTF-8 → not-well-formed', () => {
    const { r, parser } = record();
    parser.write(HEADER);
    parser.write(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e]));
    expect(r.errors.map((e) => e.condition)).toEqual(['not-well-formed']);
  });

  it('an oversized stanza → policy-violation, refused before it is read whole', () => {
    const { r, parser } = record({ maxStanzaSize: 1000, sliceBytes: 100 });
    parser.write(HEADER);
    parser.write(`<message><body>${'x'.repeat(5000)}</body></message>`);
    expect(r.errors.map((e) => [e.condition, e.text])).toEqual([
      ['policy-violation', 'XML stanza is too big'],
    ]);
    expect(r.elements).toEqual([]);
  });

  // max_stanza_size is the largest stanza allowed: a stanza still open at exactly that many bytes
  // is fine, one byte more is refused (the count is exact within the slice a stanza starts in).
  it('the exact limit: an open stanza of maxStanzaSize bytes passes, one byte more is refused', () => {
    const limit = 500;
    const { r, parser } = record({ maxStanzaSize: limit, sliceBytes: 4096 });
    parser.write(HEADER);
    const open = "<message to='b@localhost'><body>";
    const body = 'é'.repeat(100); // multi-byte: the limit is in bytes, not characters
    const start = `${open}${body}${'x'.repeat(limit - Buffer.byteLength(open + body))}`;
    expect(Buffer.byteLength(start)).toBe(limit);
    parser.write(start);
    expect(r.errors).toEqual([]);
    parser.write('x');
    expect(r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
    expect(r.elements).toEqual([]);
  });

  // max_stanza_size is checked as the bytes are consumed (ejabberd's parser counts them as they
  // arrive), wherever the chunk boundaries fall: a stanza that opens and closes within one chunk,
  // or that starts in one slice and closes in the next, is counted whole.
  describe('the exact limit for a stanza inside one chunk, before and after authentication', () => {
    /** A `<message>` of exactly `bytes` UTF-8 bytes, with multi-byte characters in its body. */
    const stanzaOf = (bytes: number): string => {
      const head = "<message to='b@localhost'><body>é€😀";
      const tail = '</body></message>';
      const s = `${head}${'x'.repeat(bytes - Buffer.byteLength(head + tail))}${tail}`;
      expect(Buffer.byteLength(s)).toBe(bytes);
      return s;
    };
    const PRE_AUTH = DEFAULTS.preAuthMaxStanzaSize;
    const POST_AUTH = 12_000; // below the 16 KiB slice: a whole stanza fits in one
    it.each([
      ['pre-auth', PRE_AUTH, PRE_AUTH, 'accepted'],
      ['pre-auth', PRE_AUTH, PRE_AUTH + 1, 'refused'],
      ['post-auth', POST_AUTH, POST_AUTH, 'accepted'],
      ['post-auth', POST_AUTH, POST_AUTH + 1, 'refused'],
    ] as const)(
      '%s, limit %i: a stanza of %i bytes written in one chunk is %s',
      (phase, limit, size, outcome) => {
        const { r, parser } = record({ maxStanzaSize: PRE_AUTH });
        parser.write(HEADER);
        if (phase === 'post-auth') parser.setLimits({ maxStanzaSize: limit });
        parser.write(stanzaOf(size));
        if (outcome === 'accepted') {
          expect(r.errors).toEqual([]);
          expect(r.elements.map((e) => e.name)).toEqual(['message']);
        } else {
          expect(r.errors.map((e) => [e.condition, e.text])).toEqual([
            ['policy-violation', 'XML stanza is too big'],
          ]);
          expect(r.elements).toEqual([]);
        }
      },
    );

    it.each([
      [PRE_AUTH, 'accepted'],
      [PRE_AUTH + 1, 'refused'],
    ] as const)(
      'a stanza of %i bytes that starts in one slice and closes in the next is %s',
      (size, outcome) => {
        const { r, parser } = record({ maxStanzaSize: PRE_AUTH });
        parser.write(HEADER);
        // Keep-alive whitespace first: the stanza starts 10,000 bytes into the first 16 KiB slice,
        // so only about 6 KiB of it are in that slice.
        parser.write(`${' '.repeat(10_000)}${stanzaOf(size)}`);
        expect(r.errors.map((e) => e.condition)).toEqual(outcome === 'accepted' ? [] : ['policy-violation']);
        expect(r.elements).toHaveLength(outcome === 'accepted' ? 1 : 0);
      },
    );

    it.each([
      [300, 'accepted'],
      [301, 'refused'],
    ] as const)('a stream header of %i bytes, limit 300, written in one chunk is %s', (size, outcome) => {
      const { r, parser } = record({ maxStanzaSize: 300 });
      const open = "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' a='é";
      const close = "' xmlns:stream='http://etherx.jabber.org/streams'>";
      parser.write(`${open}${'y'.repeat(size - Buffer.byteLength(open + close))}${close}`);
      expect(r.errors.map((e) => e.condition)).toEqual(outcome === 'accepted' ? [] : ['policy-violation']);
      expect(r.starts).toHaveLength(outcome === 'accepted' ? 1 : 0);
    });

    it('accepted exactly when it is within the limit, for any slice size and any cuts (property)', () => {
      const chars = fc.constantFrom('x', ' ', 'é', '€', '😀', '&amp;');
      fc.assert(
        fc.property(
          fc.array(chars, { maxLength: 40 }),
          fc.integer({ min: -2, max: 1 }),
          fc.integer({ min: 1, max: 64 }),
          fc.uniqueArray(fc.integer({ min: 1, max: 400 }), { maxLength: 6 }),
          (body, delta, sliceBytes, cuts) => {
            const stanza = `<m a='${body.join('')}'>${body.join('')}</m>`;
            const size = Buffer.byteLength(stanza);
            const limit = size + delta;
            const { r, parser } = record({ sliceBytes });
            parser.write(HEADER);
            parser.setLimits({ maxStanzaSize: limit });
            const bytes = Buffer.from(`${stanza}<m/>`);
            const points = [0, ...cuts.filter((c) => c < bytes.length).sort((a, b) => a - b), bytes.length];
            for (let i = 0; i + 1 < points.length; i++)
              parser.write(bytes.subarray(points[i]!, points[i + 1]!));
            if (size <= limit) {
              expect(r.errors).toEqual([]);
              expect(r.elements).toHaveLength(2);
            } else {
              expect(r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
              expect(r.elements).toEqual([]);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  it('an oversized stream header → policy-violation', () => {
    const { r, parser } = record({ maxStanzaSize: 200, sliceBytes: 50 });
    parser.write(`<stream:stream a='${'y'.repeat(500)}'>`);
    expect(r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
  });

  it('many small stanzas summing past the limit are fine; the limit is per stanza', () => {
    const { r, parser } = record({ maxStanzaSize: 300, sliceBytes: 64 });
    parser.write(HEADER);
    const stanza = `<message><body>${'z'.repeat(100)}</body></message>`;
    for (let i = 0; i < 50; i++) parser.write(stanza);
    parser.write(stanza.repeat(20));
    expect(r.errors).toEqual([]);
    expect(r.elements).toHaveLength(70);
  });

  it('whitespace keep-alives between stanzas are ignored (RFC 6120 §4.6.1)', () => {
    const { r, parser } = record();
    parser.write(`${HEADER}\n \t<presence/>\n\n`);
    expect(r.errors).toEqual([]);
    expect(r.elements).toHaveLength(1);
  });

  const strict: Array<[string, string, string]> = [
    ['an unquoted attribute value', "<message to=bob type='chat'/>", 'not-well-formed'],
    ['no space between attributes', "<message to='a'type='b'/>", 'not-well-formed'],
    ['a duplicate attribute', "<message to='a' to='b'/>", 'not-well-formed'],
    ['an attribute without a value', '<message to/>', 'not-well-formed'],
    ["'<' in an attribute value", "<message to='a<b'/>", 'not-well-formed'],
    ['an unknown entity in an attribute', "<message to='&nbsp;'/>", 'not-well-formed'],
    ['a stray & in text', '<message><body>a & b</body></message>', 'not-well-formed'],
    ['a control character in text', '<message><body>a\u0001b</body></message>', 'not-well-formed'],
    ['a reference to a control character', '<message><body>&#x1;</body></message>', 'not-well-formed'],
    ['attributes in an end tag', "<message></message to='x'>", 'not-well-formed'],
    ["'/' not followed by '>'", '<message/ >', 'not-well-formed'],
    ['a tag name starting with a digit', '<1message/>', 'not-well-formed'],
    ['CDATA at stream level', '<![CDATA[x]]>', 'not-well-formed'],
    ['a lowercase doctype', '<!doctype x>', 'restricted-xml'],
    ['an ENTITY declaration', '<!ENTITY x "y">', 'restricted-xml'],
    ['a processing instruction at stream level', '<?php x?>', 'restricted-xml'],
    ['an XML declaration inside a stanza', "<message><?xml version='1.0'?></message>", 'restricted-xml'],
    ['a comment inside a stanza', '<message><!-- x --></message>', 'restricted-xml'],
  ];
  it.each(strict)('strict XML: %s → %s', (_name, input, condition) => {
    const { r, parser } = record();
    parser.write(HEADER);
    parser.write(input);
    expect(r.errors.map((e) => e.condition)).toEqual([condition]);
    expect(r.elements).toEqual([]);
  });

  it('CDATA sections and the predefined entities and character references are text', () => {
    const { r, parser } = record();
    parser.write(
      `${HEADER}<message a='&quot;&apos;&lt;&gt;&amp;&#65;&#x1F600;'><body>x<![CDATA[<not> & markup]]>y&#233;</body></message>`,
    );
    expect(r.errors).toEqual([]);
    expect(r.elements[0]!.attrs.a).toBe(`"'<>&A😀`);
    expect(r.elements[0]!.getChildText('body')).toBe('x<not> & markupyé');
  });

  it('CDATA split at every point, "]]>" included', () => {
    const doc = `${HEADER}<m><![CDATA[a]b]]c]]></m>`;
    for (let cut = HEADER.length; cut < doc.length; cut++) {
      const { r, parser } = record();
      parser.write(doc.slice(0, cut));
      parser.write(doc.slice(cut));
      expect(r.errors).toEqual([]);
      expect(r.elements[0]!.getText()).toBe('a]b]]c');
    }
  });

  it('element depth: the bound is accepted, one deeper is refused while parsing (before the stanza ends)', () => {
    const open = (n: number) => `<message>${'<a>'.repeat(n - 1)}`;
    const ok = record({ maxElementDepth: 10 });
    ok.parser.write(`${HEADER}${open(10)}${'</a>'.repeat(9)}</message>`);
    expect(ok.r.errors).toEqual([]);
    expect(ok.r.elements).toHaveLength(1);
    const deep = record({ maxElementDepth: 10 });
    deep.parser.write(`${HEADER}${open(11)}`); // never closed: refused as it opens
    expect(deep.r.errors.map((e) => [e.condition, e.text])).toEqual([
      ['policy-violation', 'XML stanza is too deep'],
    ]);
  });

  it('elements per stanza (max_stanza_elements), counted per stanza', () => {
    const { r, parser } = record({ maxStanzaElements: 5 });
    parser.write(`${HEADER}<m><a/><b/><c/><d/></m><m><a/><b/><c/><d/></m>`);
    expect(r.errors).toEqual([]);
    parser.write('<m><a/><b/><c/><d/><e/>');
    expect(r.errors.map((e) => [e.condition, e.text])).toEqual([
      ['policy-violation', 'XML stanza has too many elements'],
    ]);
  });

  it('attribute count and name length are checked as the characters arrive', () => {
    const attrs = record({ maxAttributes: 3 });
    attrs.parser.write(`${HEADER}<m a='1' b='2' c='3' d`);
    expect(attrs.r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
    const long = record({ maxNameLength: 16 });
    long.parser.write(`${HEADER}<m${'x'.repeat(10)}`);
    expect(long.r.errors).toEqual([]);
    long.parser.write('x'.repeat(10)); // the name is not finished, but already too long
    expect(long.r.errors.map((e) => [e.condition, e.text])).toEqual([
      ['policy-violation', 'an XML name is too long'],
    ]);
    const attrName = record({ maxNameLength: 16 });
    attrName.parser.write(`${HEADER}<m ${'y'.repeat(17)}`);
    expect(attrName.r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
  });

  it('pre-auth limits until setLimits, then the post-auth ones (ejabberd pre_auth_max_stanza_size)', () => {
    const { r, parser } = record({ maxStanzaSize: 500, sliceBytes: 64 });
    parser.write(HEADER);
    parser.setLimits({ maxStanzaSize: 5000 });
    parser.write(`<m>${'x'.repeat(2000)}</m>`);
    expect(r.errors).toEqual([]);
    parser.write(`<m>${'x'.repeat(6000)}</m>`);
    expect(r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
  });

  it('the size count is exact for the slice a stanza starts in (no false refusal after many small stanzas)', () => {
    const { r, parser } = record({ maxStanzaSize: 200, sliceBytes: 16_384 });
    parser.write(HEADER);
    const small = `<m>${'s'.repeat(100)}</m>`;
    // One write far larger than the limit, made of stanzas each below it, ending inside one.
    parser.write(`${small.repeat(100)}<m>${'t'.repeat(150)}`);
    expect(r.errors).toEqual([]);
    parser.write('t'.repeat(100)); // still open, now 253 bytes
    expect(r.errors.map((e) => e.condition)).toEqual(['policy-violation']);
  });

  it('a long token fed one byte at a time costs linear time (no re-scan of what was read)', () => {
    const { r, parser } = record({ maxStanzaSize: 1_000_000 });
    parser.write(HEADER);
    const doc = `<m a='${'v'.repeat(200_000)}'>${'t'.repeat(200_000)}</m>`;
    for (let i = 0; i < doc.length; i++) parser.write(doc[i]!);
    expect(r.errors).toEqual([]);
    expect(r.elements[0]!.attrs.a).toHaveLength(200_000);
    expect(r.elements[0]!.getText()).toHaveLength(200_000);
  });
});
