// RFC 7395 framing: the connection speaks RFC 6120 stream XML; a WebSocket carries one complete
// element per message, `<open/>` and `<close/>` for the stream's start and end. These two
// functions translate between them, so that no c2s logic knows about WebSocket.

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_STREAMS = 'http://etherx.jabber.org/streams';
const STREAM_OPEN = '<stream:stream';
const STREAM_CLOSE = '</stream:stream>';
/** `<close/>`: the end of the stream (RFC 7395 §3.6). */
const CLOSE_FRAME = `<close xmlns='${NS_FRAMING}'/>`;
/** The header attributes RFC 7395 §3.3.2 replaces by the framing namespace. */
const HEADER_NAMESPACES = /\s+xmlns(:stream)?=(['"])[^'"]*\2/g;
const ATTRIBUTE = /([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(['"])([^'"]*)\2/g;

/**
 * Splits what the connection wrote (complete top-level pieces: a stream header, elements, the
 * stream end) into WebSocket messages: the header becomes `<open/>`, `</stream:stream>` becomes
 * `<close/>`, and each element a message that declares the namespaces it used from the stream
 * (`stream:` prefixes, `jabber:client` on stanzas), as RFC 7395 §3.3.3 asks. Our serialiser
 * escapes `<` and `>` in text and attribute values, so every `<` starts a tag.
 */
export function toFrames(data: string): string[] {
  const frames: string[] = [];
  let i = 0;
  const n = data.length;
  while (i < n) {
    const lt = data.indexOf('<', i);
    if (lt < 0) break;
    if (data.startsWith('<?', lt)) {
      i = data.indexOf('?>', lt) + 2;
      continue;
    }
    if (data.startsWith(STREAM_CLOSE, lt)) {
      frames.push(CLOSE_FRAME);
      i = lt + STREAM_CLOSE.length;
      continue;
    }
    if (data.startsWith(STREAM_OPEN, lt)) {
      const gt = data.indexOf('>', lt);
      const attrs = data.slice(lt + STREAM_OPEN.length, gt).replace(HEADER_NAMESPACES, '');
      frames.push(`<open xmlns='${NS_FRAMING}'${attrs}/>`);
      i = gt + 1;
      continue;
    }
    let depth = 0;
    let j = lt;
    for (;;) {
      const gt = data.indexOf('>', j);
      if (gt < 0) return frames; // incomplete: never written so
      if (data.charCodeAt(j + 1) === 47 /* / */) depth--;
      else if (data.charCodeAt(gt - 1) !== 47) depth++;
      j = gt + 1;
      if (depth === 0) break;
      j = data.indexOf('<', j);
      if (j < 0) return frames;
    }
    frames.push(declareNamespaces(data.slice(lt, j)));
    i = j;
  }
  return frames;
}

function declareNamespaces(element: string): string {
  const nameEnd = element.search(/[\s/>]/);
  const name = element.slice(1, nameEnd);
  if (name.startsWith('stream:')) {
    return `${element.slice(0, nameEnd)} xmlns:stream='${NS_STREAMS}'${element.slice(nameEnd)}`;
  }
  if (name === 'message' || name === 'presence' || name === 'iq') {
    const startTag = element.slice(0, element.indexOf('>'));
    if (!/\sxmlns=/.test(startTag))
      return `${element.slice(0, nameEnd)} xmlns='jabber:client'${element.slice(nameEnd)}`;
  }
  return element;
}

/**
 * Whether a message is `<open …/>` or `<close …/>` (after leading whitespace), the only ones
 * {@link fromFrame} changes: a stanza goes on as the bytes it came in, not decoded and copied.
 */
export function isFramingElement(message: Buffer): boolean {
  let i = 0;
  while (
    i < message.length &&
    (message[i] === 0x20 || message[i] === 0x09 || message[i] === 0x0a || message[i] === 0x0d)
  )
    i++;
  if (message[i] !== 0x3c /* < */) return false;
  const o = message[i + 1];
  if (o === 0x6f /* o */) return message.toString('latin1', i + 1, i + 5) === 'open';
  if (o === 0x63 /* c */) return message.toString('latin1', i + 1, i + 6) === 'close';
  return false;
}

/**
 * One WebSocket message from the client as stream XML: `<open/>` becomes a stream header (a
 * restart after SASL, RFC 7395 §3.5), `<close/>` the stream end, anything else is passed on for
 * the stream parser, whose limits and checks apply as on TCP.
 */
export function fromFrame(frame: string): string {
  const text = frame.trimStart();
  if (text.startsWith('<open')) {
    let attrs = '';
    let framing = false;
    for (const m of text.matchAll(ATTRIBUTE)) {
      if (m[1] === 'xmlns') framing = m[3] === NS_FRAMING;
      else if (m[1] !== 'xmlns:stream') attrs += ` ${m[1]}=${m[2]}${m[3]}${m[2]}`;
    }
    // A wrong namespace on <open/> reaches the machine as a wrong one on the header.
    const ns = framing ? 'jabber:client' : 'urn:invalid';
    return `<stream:stream xmlns='${ns}' xmlns:stream='${NS_STREAMS}'${attrs}>`;
  }
  if (text.startsWith('<close')) return STREAM_CLOSE;
  return frame;
}
