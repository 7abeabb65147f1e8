import { Element, Parser } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import { StreamError } from './errors.ts';

/** What the framing parser reports, in stream order. */
export interface StreamParserSink {
  /** A stream header `<stream:stream …>`: the first one, or a restart after SASL success. */
  onStreamStart(header: Element): void;
  /** One complete top-level element (a stanza or a negotiation element). */
  onElement(element: Element): void;
  /** `</stream:stream>`. */
  onStreamEnd(): void;
  /** Malformed XML or an oversized stanza: the stream must end with this error. Reported once. */
  onError(error: StreamError): void;
}

/** Options of a {@link StreamParser}. */
export interface StreamParserOptions {
  /** Largest stanza (or stream header) in bytes. @default DEFAULTS.maxStanzaSize */
  readonly maxStanzaSize?: number;
  /** The size check runs after each slice of this many bytes. @default DEFAULTS.parserSliceBytes */
  readonly sliceBytes?: number;
}

function isStreamHeader(name: string): boolean {
  return name === 'stream:stream' || name === 'stream' || name.endsWith(':stream');
}

/**
 * `@xmpp/xml`'s parser with the tree building replaced: tracks the stream root, lets a new
 * stream header at stanza level restart the stream (RFC 6120 §4.3.3), and reports mismatched
 * tags and stray text as `not-well-formed`.
 */
class Framer extends Parser {
  sink: StreamParserSink | undefined;
  failed = false;
  /** Incremented at each stanza boundary (a complete element or a stream header). */
  boundaries = 0;
  /** True when the last parser event was a stanza boundary. */
  lastWasBoundary = false;

  override onStartElement(name: string, attrs?: string | { [attrName: string]: unknown }): void {
    if (this.failed) return;
    this.lastWasBoundary = false;
    const element = new Element(name, attrs as Record<string, string>);
    if (this.root === null || (this.cursor === this.root && isStreamHeader(name))) {
      this.root = element;
      this.cursor = element;
      this.boundaries++;
      this.lastWasBoundary = true;
      this.sink!.onStreamStart(element);
      return;
    }
    if (this.cursor !== this.root) this.cursor!.cnode(element);
    this.cursor = element;
  }

  override onEndElement(name: string): void {
    if (this.failed) return;
    const cursor = this.cursor;
    if (cursor === null || name !== cursor.name) {
      this.fail(new StreamError('not-well-formed', `unexpected </${name}>`));
      return;
    }
    if (cursor === this.root) {
      this.failed = true; // nothing is read after the end of the stream
      this.sink!.onStreamEnd();
      return;
    }
    const parent = cursor.parent;
    if (parent === null || parent === undefined) {
      this.cursor = this.root;
      this.boundaries++;
      this.lastWasBoundary = true;
      this.sink!.onElement(cursor);
      return;
    }
    this.cursor = parent;
  }

  override onText(str: string): void {
    if (this.failed) return;
    this.lastWasBoundary = false;
    const cursor = this.cursor;
    if (cursor === null || cursor === this.root) {
      // Whitespace between stanzas is a keep-alive (RFC 6120 §4.6.1); anything else is not XMPP.
      if (str.trim() !== '') this.fail(new StreamError('not-well-formed', 'text outside a stanza'));
      return;
    }
    cursor.t(str);
  }

  fail(error: StreamError): void {
    if (this.failed) return;
    this.failed = true;
    this.sink!.onError(error);
  }

  /** True while the parser is inside a stanza (or before the stream header). */
  inStanza(): boolean {
    return this.cursor !== this.root || this.root === null;
  }
}

/**
 * The C2S stream framing: UTF-8 decoding, the `@xmpp/xml` (ltx) parser, and the
 * `max_stanza_size` limit ejabberd's `fxml_stream` enforces. Input is fed in slices; after each
 * slice that leaves the parser inside a stanza the bytes read since the last stanza boundary are
 * compared with the limit, so an oversized stanza is refused after at most one slice past the
 * limit and is never buffered whole.
 *
 * Errors (invalid UTF-8, bad entities, mismatched tags, text outside stanzas, oversized stanzas)
 * are reported once through `onError`; everything after is ignored.
 */
export class StreamParser {
  private framer: Framer;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly maxStanzaSize: number;
  private readonly sliceBytes: number;
  private stanzaBytes = 0;
  /** A possibly partial `<`, `<!`, `<!-` or `?` held back from the previous slice. */
  private carry = '';
  /** Inside `<?…?>` (the XML declaration before each stream header). */
  private inDeclaration = false;
  /** True when the previous slice ended right after a stanza boundary (the parser is in text). */
  private atStreamLevel = false;

  constructor(sink: StreamParserSink, options: StreamParserOptions = {}) {
    this.maxStanzaSize = options.maxStanzaSize ?? DEFAULTS.maxStanzaSize;
    this.sliceBytes = options.sliceBytes ?? DEFAULTS.parserSliceBytes;
    this.framer = new Framer();
    this.framer.sink = sink;
  }

  /** True once an error or the end of the stream was seen. */
  get closed(): boolean {
    return this.framer.failed;
  }

  /**
   * Drops processing instructions (the `<?xml …?>` declaration clients send before every stream
   * header) and refuses comments and DTDs (RFC 6120 §11.1 restricted XML). Done here because ltx
   * loses the end of a comment or instruction split across two writes.
   */
  private filter(text: string): string | undefined {
    if (this.carry === '' && !this.inDeclaration && text.indexOf('<?') < 0 && text.indexOf('<!') < 0) {
      if (text.charCodeAt(text.length - 1) !== 60 /* < */) return text;
    }
    const s = this.carry + text;
    this.carry = '';
    let out = '';
    let i = 0;
    while (i < s.length) {
      if (this.inDeclaration) {
        const end = s.indexOf('?>', i);
        if (end < 0) {
          if (s.charCodeAt(s.length - 1) === 63 /* ? */) this.carry = '?';
          return out;
        }
        i = end + 2;
        this.inDeclaration = false;
        continue;
      }
      const lt = s.indexOf('<', i);
      if (lt < 0) {
        out += s.slice(i);
        break;
      }
      const rest = s.slice(lt, lt + 4);
      if (lt + rest.length === s.length && rest.length < 4 && ('<!--'.startsWith(rest) || rest === '<')) {
        this.carry = rest;
        out += s.slice(i, lt);
        break;
      }
      if (rest.startsWith('<?')) {
        out += s.slice(i, lt);
        this.inDeclaration = true;
        i = lt + 2;
        continue;
      }
      if (rest === '<!--' || rest.startsWith('<!D')) {
        this.framer.fail(new StreamError('restricted-xml', 'comments and DTDs are not allowed'));
        return undefined;
      }
      out += s.slice(i, lt + 1);
      i = lt + 1;
    }
    return out;
  }

  /**
   * Right after a stanza only whitespace and markup may follow: catch garbage at once rather than
   * when the next `<` arrives (ltx reports text only then).
   */
  private startsLikeXml(text: string): boolean {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 60 /* < */) return true;
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
    }
    return true;
  }

  /** Feeds bytes read from the socket (or a string, for tests). */
  write(data: Uint8Array | string): void {
    if (this.framer.failed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length && !this.framer.failed; off += this.sliceBytes) {
      const slice = bytes.subarray(off, Math.min(off + this.sliceBytes, bytes.length));
      let text: string;
      try {
        text = this.decoder.decode(slice, { stream: true });
      } catch (cause) {
        this.framer.fail(new StreamError('not-well-formed', 'invalid UTF-8', { cause }));
        return;
      }
      const filtered = this.filter(text);
      if (filtered === undefined) return;
      text = filtered;
      const before = this.framer.boundaries;
      if (this.atStreamLevel && !this.startsLikeXml(text)) {
        this.framer.fail(new StreamError('not-well-formed', 'text outside a stanza'));
        return;
      }
      try {
        this.framer.write(text);
      } catch (cause) {
        // ltx throws on an unknown entity or an illegal character reference.
        this.framer.fail(new StreamError('not-well-formed', (cause as Error).message, { cause }));
        return;
      }
      // Heuristic: the last event was a boundary and only whitespace follows the last '>' (a '>'
      // left unescaped in an attribute value exactly at a slice end could fool it).
      const gt = text.lastIndexOf('>');
      if (gt >= 0) {
        this.atStreamLevel = this.framer.lastWasBoundary && /^\s*$/.test(text.slice(gt + 1));
      } else if (!/^\s*$/.test(text)) {
        this.atStreamLevel = false;
      }
      // Bytes since the last stanza boundary, text the parser still buffers included; a boundary
      // inside the slice starts the count again (over-counting by less than a slice).
      this.stanzaBytes = this.framer.boundaries === before ? this.stanzaBytes + slice.length : slice.length;
      if (this.stanzaBytes > this.maxStanzaSize) {
        this.framer.fail(new StreamError('policy-violation', 'XML stanza is too big'));
        return;
      }
    }
  }
}
