// RFC 7395 framing, both ways: what the connection writes becomes one complete element per
// WebSocket message, and what a client sends becomes stream XML for the same parser as TCP.
import { describe, expect, it } from 'vitest';
import { fromFrame, isFramingElement, toFrames } from '../src/internal/framing.ts';
import { STREAM_END, streamError, streamHeader } from '../src/internal/wire.ts';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STREAMS = 'http://etherx.jabber.org/streams';

describe('toFrames: the connection writes, the WebSocket carries', () => {
  const cases: Array<[string, string, string[]]> = [
    [
      'the stream header becomes <open/> (RFC 7395 §3.3.2)',
      streamHeader('abc', 'localhost', 'en'),
      [`<open xmlns='${FRAMING}' id='abc' from='localhost' version='1.0' xml:lang='en'/>`],
    ],
    ['</stream:stream> becomes <close/> (RFC 7395 §3.6)', STREAM_END, [`<close xmlns='${FRAMING}'/>`]],
    [
      'a stanza gets jabber:client, each element its own message',
      `<message to="a@b"><body>1 &lt; 2 &gt; 0</body></message><iq type='result' id='x'/>`,
      [
        `<message xmlns='jabber:client' to="a@b"><body>1 &lt; 2 &gt; 0</body></message>`,
        `<iq xmlns='jabber:client' type='result' id='x'/>`,
      ],
    ],
    [
      'an element that names its namespace keeps it; nested and self-closing children',
      `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><presence xmlns="jabber:client"><c a="1"/><x><y/></x></presence>`,
      [
        `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`,
        `<presence xmlns="jabber:client"><c a="1"/><x><y/></x></presence>`,
      ],
    ],
    [
      'stream: elements declare the prefix',
      `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>${streamError('host-unknown')}${STREAM_END}`,
      [
        `<stream:features xmlns:stream='${STREAMS}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
        `<stream:error xmlns:stream='${STREAMS}'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
        `<close xmlns='${FRAMING}'/>`,
      ],
    ],
    ['nothing', '', []],
  ];
  it.each(cases)('%s', (_name, written, frames) => {
    expect(toFrames(written)).toEqual(frames);
  });
});

describe('fromFrame: the client sends, the stream parser reads', () => {
  const cases: Array<[string, string, string]> = [
    [
      '<open/> becomes a stream header with its attributes',
      `<open xmlns="${FRAMING}" to="localhost" version="1.0" xml:lang="fr"/>`,
      `<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' to="localhost" version="1.0" xml:lang="fr">`,
    ],
    [
      '<open/> in another namespace reaches the machine as a wrong namespace',
      `<open xmlns='jabber:client' to='localhost' version='1.0'/>`,
      `<stream:stream xmlns='urn:invalid' xmlns:stream='${STREAMS}' to='localhost' version='1.0'>`,
    ],
    ['<close/> ends the stream', `<close xmlns='${FRAMING}'/>`, '</stream:stream>'],
    [
      'a stanza is passed on as it is',
      `<message xmlns='jabber:client'/>`,
      `<message xmlns='jabber:client'/>`,
    ],
  ];
  it.each(cases)('%s', (_name, frame, stream) => {
    expect(fromFrame(frame)).toBe(stream);
    // Only <open/> and <close/> are rewritten; the rest goes on as its bytes.
    expect(isFramingElement(Buffer.from(frame))).toBe(fromFrame(frame) !== frame);
  });

  it.each([
    [' \n\t<open/>', true],
    ['<close/>', true],
    ['<opening/>', true], // a name that starts so is refused later by the header check, as any
    ['<message/>', false],
    ['<c/>', false],
    ['', false],
  ])('isFramingElement(%j) is %s', (text, expected) => {
    expect(isFramingElement(Buffer.from(text))).toBe(expected);
  });
});
