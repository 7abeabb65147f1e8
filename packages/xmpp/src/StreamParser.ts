import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import { StreamError, type StreamErrorCondition } from './errors.ts';
import { XmlTokenizer, type XmlTokenSink } from './internal/XmlTokenizer.ts';

/** What the framing parser reports, in stream order. */
export interface StreamParserSink {
  /** A stream header `<stream:stream …>`: the first one, or a restart after SASL success. */
  onStreamStart(header: Element): void;
  /** One complete top-level element (a stanza or a negotiation element). */
  onElement(element: Element): void;
  /** `</stream:stream>`. */
  onStreamEnd(): void;
  /** Malformed XML, restricted XML or a limit exceeded: the stream must end with this error. Reported once. */
  onError(error: StreamError): void;
}

/** The per-stanza limits, which a connection may change once the stream is authenticated. */
export interface StreamParserLimits {
  /** Largest stanza (or stream header) in bytes (`max_stanza_size`). */
  readonly maxStanzaSize?: number;
  /** Most elements in one stanza, the stanza itself included (`max_stanza_elements`). */
  readonly maxStanzaElements?: number;
}

/** Options of a {@link StreamParser}. */
export interface StreamParserOptions extends StreamParserLimits {
  /**
   * Input is tokenized in slices of this many bytes; a stanza still open after a slice is
   * size-checked then. @default DEFAULTS.parserSliceBytes
   */
  readonly sliceBytes?: number;
  /** Deepest element nesting in a stanza (the stanza is depth 1). @default DEFAULTS.maxElementDepth */
  readonly maxElementDepth?: number;
  /** Most attributes on one element. @default DEFAULTS.maxAttributes */
  readonly maxAttributes?: number;
  /** Longest element or attribute name, in characters. @default DEFAULTS.maxNameLength */
  readonly maxNameLength?: number;
}

function isStreamHeader(name: string): boolean {
  return name === 'stream:stream' || name === 'stream' || name.endsWith(':stream');
}

/**
 * Builds elements from the tokenizer's events: tracks the stream root, lets a new stream header
 * at stanza level restart the stream (RFC 6120 §4.3.3), checks the element depth and count of
 * each stanza as its elements open, and reports mismatched end tags as `not-well-formed`.
 */
class Framer implements XmlTokenSink {
  root: Element | null = null;
  cursor: Element | null = null;
  /** Elements of the stanza being read. */
  elements = 0;
  maxElements: number;
  tokenizer!: XmlTokenizer;

  constructor(
    private readonly sink: StreamParserSink,
    private readonly maxDepth: number,
    maxElements: number,
    /** Whether the stanza (or header) whose last tag just closed is within `max_stanza_size`. */
    private readonly fits: () => boolean,
  ) {
    this.maxElements = maxElements;
  }

  startElement(name: string, attrs: Record<string, string>): void {
    const element = new Element(name);
    element.attrs = attrs;
    const tokenizer = this.tokenizer;
    if (this.root === null || (this.cursor === this.root && isStreamHeader(name))) {
      if (!this.fits()) {
        this.fail('policy-violation', 'XML stanza is too big');
        return;
      }
      this.root = element;
      this.cursor = element;
      tokenizer.depth = 1;
      this.sink.onStreamStart(element);
      return;
    }
    // The tokenizer counts the stream root: the stanza element is depth 1 of the stanza.
    const depth = tokenizer.depth - 1;
    if (depth === 1) this.elements = 0;
    if (depth > this.maxDepth) {
      this.fail('policy-violation', 'XML stanza is too deep');
      return;
    }
    if (++this.elements > this.maxElements) {
      this.fail('policy-violation', 'XML stanza has too many elements');
      return;
    }
    if (depth > 1) this.cursor!.cnode(element);
    this.cursor = element;
  }

  endElement(name: string): void {
    const cursor = this.cursor;
    if (cursor === null || name !== cursor.name) {
      this.fail('not-well-formed', `unexpected </${name}>`);
      return;
    }
    if (cursor === this.root) {
      this.tokenizer.stop(); // nothing is read after the end of the stream
      this.sink.onStreamEnd();
      return;
    }
    const parent = cursor.parent;
    if (parent === null || parent === undefined) {
      if (!this.fits()) {
        this.fail('policy-violation', 'XML stanza is too big');
        return;
      }
      this.cursor = this.root;
      this.sink.onElement(cursor);
      return;
    }
    this.cursor = parent;
  }

  text(text: string): void {
    this.cursor!.t(text);
  }

  error(condition: StreamErrorCondition, text: string): void {
    this.sink.onError(new StreamError(condition, text));
  }

  fail(condition: StreamErrorCondition, text: string, cause?: unknown): void {
    if (this.tokenizer.closed) return;
    this.tokenizer.stop();
    this.sink.onError(new StreamError(condition, text, cause === undefined ? {} : { cause }));
  }
}

/**
 * The C2S stream framing: strict UTF-8 decoding, a strict streaming XML tokenizer for RFC 6120's
 * restricted XML (`internal/XmlTokenizer.ts`), and the limits ejabberd's `fxml_stream` and
 * `xmpp_stream_in` enforce, each checked while the stanza is read, never after it was buffered:
 *
 * - `max_stanza_size`: the UTF-8 bytes of each stanza (and stream header), from its `<` to the
 *   `>` that ends it, are counted as they are consumed: a stanza of exactly the limit passes, one
 *   byte more is refused before it is delivered (`policy-violation` "XML stanza is too big"),
 *   wherever the chunk boundaries fall; input is tokenized in slices, and a stanza still open
 *   after a slice is checked then, so an oversized one is refused after at most one slice past
 *   the limit, never buffered whole;
 * - element depth (`policy-violation` "XML stanza is too deep") and elements per stanza
 *   (`max_stanza_elements`), checked as each element opens; attributes per element and name
 *   length, checked as each character arrives. The depth bound also bounds every recursive walk
 *   of an accepted stanza (copy, serialisation);
 * - comments, DTDs (`<!` anything but CDATA, whatever the case) and processing instructions
 *   other than the `<?xml?>` declaration: `restricted-xml`, at the first character that shows
 *   them; malformed markup (an unquoted attribute value, a missing space, a duplicate attribute,
 *   an unknown entity, text outside stanzas, a mismatched end tag): `not-well-formed`, at once.
 *
 * Errors are reported once through `onError`; everything after is ignored.
 */
export class StreamParser {
  private readonly tokenizer: XmlTokenizer;
  private readonly framer: Framer;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private maxStanzaSize: number;
  private readonly sliceBytes: number;
  /** Bytes of the open stanza in the chunks before the current one (0 between stanzas). */
  private stanzaBytes = 0;
  /** The chunk being tokenized. */
  private text = '';

  constructor(sink: StreamParserSink, options: StreamParserOptions = {}) {
    this.maxStanzaSize = options.maxStanzaSize ?? DEFAULTS.maxStanzaSize;
    this.sliceBytes = options.sliceBytes ?? DEFAULTS.parserSliceBytes;
    this.framer = new Framer(
      sink,
      options.maxElementDepth ?? DEFAULTS.maxElementDepth,
      options.maxStanzaElements ?? DEFAULTS.maxStanzaElements,
      () => this.fits(),
    );
    this.tokenizer = new XmlTokenizer(this.framer, {
      maxNameLength: options.maxNameLength ?? DEFAULTS.maxNameLength,
      maxAttributes: options.maxAttributes ?? DEFAULTS.maxAttributes,
    });
    this.framer.tokenizer = this.tokenizer;
  }

  /** True once an error or the end of the stream was seen. */
  get closed(): boolean {
    return this.tokenizer.closed;
  }

  /**
   * Changes the per-stanza limits from the next stanza on (ejabberd's
   * `pre_auth_max_stanza_size` → `max_stanza_size` once the stream is authenticated).
   */
  setLimits(limits: StreamParserLimits): void {
    if (limits.maxStanzaSize !== undefined) this.maxStanzaSize = limits.maxStanzaSize;
    if (limits.maxStanzaElements !== undefined) this.framer.maxElements = limits.maxStanzaElements;
  }

  /** Feeds bytes read from the socket (or a string, for tests). */
  write(data: Uint8Array | string): void {
    if (this.tokenizer.closed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const tokenizer = this.tokenizer;
    for (let off = 0; off < bytes.length && !tokenizer.closed; off += this.sliceBytes) {
      const slice = bytes.subarray(off, Math.min(off + this.sliceBytes, bytes.length));
      let text: string;
      try {
        text = this.decoder.decode(slice, { stream: true });
      } catch (cause) {
        this.framer.fail('not-well-formed', 'invalid UTF-8', cause);
        return;
      }
      this.text = text;
      tokenizer.write(text);
      this.text = '';
      if (tokenizer.closed) return;
      if (tokenizer.depth <= 1 && tokenizer.atText) {
        // Between stanzas (no tag open at stream level either): nothing to count.
        this.stanzaBytes = 0;
        continue;
      }
      // A stanza (or a header) is open: its bytes so far (of the characters this chunk decoded:
      // a character split between slices counts once, in the chunk that completes it).
      const start = tokenizer.stanzaStart;
      this.stanzaBytes =
        start < 0
          ? this.stanzaBytes + Buffer.byteLength(text)
          : Buffer.byteLength(start === 0 ? text : text.slice(start));
      if (this.stanzaBytes > this.maxStanzaSize) {
        this.framer.fail('policy-violation', 'XML stanza is too big');
        return;
      }
    }
  }

  /**
   * Whether the stanza (or stream header) whose last tag the tokenizer just closed is within
   * `maxStanzaSize`: its bytes in earlier chunks, and those of this chunk up to that tag's `>`.
   * A UTF-16 code unit is 1 to 3 UTF-8 bytes, so most stanzas are decided without counting.
   */
  private fits(): boolean {
    const start = this.tokenizer.stanzaStart;
    // Started in an earlier chunk (-1): its bytes there, and this chunk from its first character.
    const from = Math.max(start, 0);
    const before = start < 0 ? this.stanzaBytes : 0;
    const end = this.tokenizer.tagEnd;
    const max = this.maxStanzaSize;
    const units = end - from;
    if (before + 3 * units <= max) return true;
    if (before + units > max) return false;
    return before + Buffer.byteLength(this.text.slice(from, end)) <= max;
  }
}
