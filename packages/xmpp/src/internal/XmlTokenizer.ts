import type { StreamErrorCondition } from '../errors.ts';

/** What the tokenizer reports, in document order. */
export interface XmlTokenSink {
  /** A start tag (a self-closing one is followed by `endElement` at once). `attrs` has no prototype. */
  startElement(name: string, attrs: Record<string, string>): void;
  endElement(name: string): void;
  /** Character data inside an element below the root (entities resolved, CDATA included). */
  text(text: string): void;
  /** The first error; nothing is reported after it. */
  error(condition: StreamErrorCondition, text: string): void;
}

/** Limits checked while tokenizing. */
export interface XmlTokenizerLimits {
  /** Longest element or attribute name, in characters. */
  readonly maxNameLength: number;
  /** Most attributes on one element. */
  readonly maxAttributes: number;
}

// States. Every state can be left at any character and resumed with the next chunk, so a token
// split across chunks is never re-scanned (an attacker sending a long token a byte at a time costs
// linear time, not quadratic).
const TEXT = 0;
const LT = 1;
const BANG = 2;
const CDATA = 3;
const PI = 4;
const START_NAME = 5;
const END_NAME = 6;
const END_SPACE = 7;
const TAG = 8;
const ATTR_NAME = 9;
const ATTR_EQ = 10;
const ATTR_QUOTE = 11;
const ATTR_VALUE = 12;
const SLASH = 13;
const DONE = 14;

/** The longest `<?xml …?>` declaration accepted. */
const MAX_DECLARATION = 1024;
const CDATA_OPEN = '[CDATA[';
/** Characters XML 1.0 forbids (XML 1.0 §2.2, Char) that a valid UTF-8 decoding can produce. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: exactly the control characters XML forbids
const INVALID_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g;
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

// Name characters (XML 1.0 §2.3): exact for ASCII; every non-ASCII letter range is accepted as
// is (strictness there protects nothing).
const NAME_START = new Uint8Array(128);
const NAME_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const start = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */ || c === 58; /* : */
  NAME_START[c] = start ? 1 : 0;
  NAME_CHAR[c] = start || (c >= 48 && c <= 57) || c === 45 /* - */ || c === 46 /* . */ ? 1 : 0;
}

function isNameStart(c: number): boolean {
  return c < 128 ? NAME_START[c] === 1 : c >= 0xc0 && c !== 0xd7 && c !== 0xf7;
}

function isNameChar(c: number): boolean {
  return c < 128 ? NAME_CHAR[c] === 1 : c >= 0xb7 && c !== 0xd7 && c !== 0xf7;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

function isXmlChar(n: number): boolean {
  return (
    n === 0x9 ||
    n === 0xa ||
    n === 0xd ||
    (n >= 0x20 && n <= 0xd7ff) ||
    (n >= 0xe000 && n <= 0xfffd) ||
    (n >= 0x10000 && n <= 0x10ffff)
  );
}

class EntityError extends Error {
  override readonly name = 'EntityError';
}

/** Resolves the five predefined entities and character references; anything else throws. */
function resolveEntities(s: string): string {
  const amp = s.indexOf('&');
  if (amp < 0) return s;
  let out = '';
  let last = 0;
  ENTITY.lastIndex = 0;
  for (let m = ENTITY.exec(s); m !== null; m = ENTITY.exec(s)) {
    const stray = s.indexOf('&', last);
    if (stray >= 0 && stray < m.index) throw new EntityError('an unknown or malformed entity');
    out += s.slice(last, m.index);
    if (m[1] !== undefined) out += PREDEFINED[m[1]]!;
    else {
      const code = m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3]!, 16);
      if (!isXmlChar(code)) throw new EntityError(`an illegal character reference &#${code};`);
      out += String.fromCodePoint(code);
    }
    last = m.index + m[0].length;
  }
  if (s.indexOf('&', last) >= 0) throw new EntityError('an unknown or malformed entity');
  return out + s.slice(last);
}

/**
 * A strict, streaming XML 1.0 tokenizer for XMPP streams (RFC 6120 §11): well-formed start and end
 * tags, quoted attribute values without `<`, whitespace between attributes, no duplicate
 * attribute, the predefined entities and character references only, CDATA sections; comments,
 * DTDs (`<!` anything but CDATA, in any case) and processing instructions are refused at the first
 * character that shows them (`restricted-xml`), except an `<?xml …?>` declaration outside
 * stanzas. Text outside stanzas must be whitespace. Name length and attribute count are checked
 * as each character arrives (`policy-violation`). Errors are reported once; the tokenizer then
 * ignores everything.
 *
 * `depth` is the number of open elements: 0 before the stream header, 1 between stanzas.
 */
export class XmlTokenizer {
  /** Open elements (0: before the root, 1: stream level). The sink may adjust it (stream restart). */
  depth = 0;
  /** Index in the current chunk of the `<` that opened a top-level tag, -1 when none did. */
  stanzaStart = -1;
  /** Index in the current chunk just past the `>` of the tag reported last (set before the sink hears of it). */
  tagEnd = 0;
  private state = TEXT;
  private failed = false;
  /** The name being read (element, end tag or attribute) and its start in the current chunk. */
  private name = '';
  private nameFrom = -1;
  private elementName = '';
  private attrs: Record<string, string> = Object.create(null);
  private attrCount = 0;
  private spaced = false;
  private quote = 0;
  /** Raw (escaped) parts of the attribute value or the text run being read. */
  private parts: string[] = [];
  private partFrom = -1;
  /** Resolved text of the current element, waiting for the next tag. */
  private text: string[] = [];
  private bang = 0;
  private brackets = 0;
  private piLength = 0;
  private piMatched = 0;
  private piQuestion = false;

  constructor(
    private readonly sink: XmlTokenSink,
    private readonly limits: XmlTokenizerLimits,
  ) {}

  /** True once an error was reported (or `stop` was called). */
  get closed(): boolean {
    return this.failed;
  }

  /** True between tokens (in character data), false inside any markup. */
  get atText(): boolean {
    return this.state === TEXT;
  }

  /** Stops reading (the end of the stream, or an error the caller found). */
  stop(): void {
    this.failed = true;
    this.state = DONE;
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.failed) return;
    this.stop();
    this.sink.error(condition, text);
  }

  /** Tokenizes one chunk of decoded text. */
  write(data: string): void {
    this.stanzaStart = -1;
    const len = data.length;
    let pos = 0;
    while (pos < len && !this.failed) {
      switch (this.state) {
        case TEXT: {
          if (this.depth <= 1) {
            // Between stanzas (or before the header) only whitespace may come (RFC 6120 §4.6.1).
            let c = data.charCodeAt(pos);
            while (isSpace(c)) {
              if (++pos === len) return;
              c = data.charCodeAt(pos);
            }
            if (c !== 60 /* < */) {
              this.fail('not-well-formed', 'text outside a stanza');
              return;
            }
            this.stanzaStart = pos;
            this.state = LT;
            pos++;
            break;
          }
          const lt = data.indexOf('<', pos);
          if (lt < 0) {
            this.parts.push(data.slice(pos));
            return;
          }
          if (lt > pos) this.parts.push(data.slice(pos, lt));
          if (!this.endTextRun()) return;
          this.state = LT;
          pos = lt + 1;
          break;
        }
        case LT: {
          const c = data.charCodeAt(pos);
          if (c === 33 /* ! */) {
            this.state = BANG;
            this.bang = 0;
            pos++;
            break;
          }
          if (c === 63 /* ? */) {
            if (this.depth > 1) {
              this.fail('restricted-xml', 'processing instructions are not allowed');
              return;
            }
            this.state = PI;
            this.piLength = 0;
            this.piMatched = 0;
            this.piQuestion = false;
            pos++;
            break;
          }
          if (!this.flushText()) return;
          if (c === 47 /* / */) {
            this.state = END_NAME;
            this.name = '';
            this.nameFrom = pos + 1;
            pos++;
            break;
          }
          if (!isNameStart(c)) {
            this.fail('not-well-formed', 'invalid element name');
            return;
          }
          this.state = START_NAME;
          this.name = '';
          this.nameFrom = pos;
          this.attrs = Object.create(null);
          this.attrCount = 0;
          pos++;
          break;
        }
        case BANG: {
          const c = data.charCodeAt(pos);
          if (c !== CDATA_OPEN.charCodeAt(this.bang)) {
            this.fail('restricted-xml', 'comments, DTDs and other markup declarations are not allowed');
            return;
          }
          pos++;
          if (++this.bang === CDATA_OPEN.length) {
            if (this.depth <= 1) {
              this.fail('not-well-formed', 'text outside a stanza');
              return;
            }
            this.state = CDATA;
            this.brackets = 0;
            this.partFrom = pos;
          }
          break;
        }
        case CDATA:
          pos = this.cdata(data, pos);
          break;
        case PI:
          pos = this.declaration(data, pos);
          break;
        case START_NAME:
        case END_NAME:
        case ATTR_NAME:
          pos = this.readName(data, pos);
          break;
        case END_SPACE: {
          const c = data.charCodeAt(pos);
          if (c === 62 /* > */) {
            pos++;
            this.closeTag(pos);
          } else if (isSpace(c)) pos++;
          else {
            this.fail('not-well-formed', 'malformed end tag');
            return;
          }
          break;
        }
        case TAG: {
          const c = data.charCodeAt(pos);
          if (isSpace(c)) {
            this.spaced = true;
            pos++;
          } else if (c === 62 /* > */) {
            pos++;
            this.openTag(false, pos);
          } else if (c === 47 /* / */) {
            this.state = SLASH;
            pos++;
          } else if (isNameStart(c)) {
            if (!this.spaced) {
              this.fail('not-well-formed', 'attributes must be separated by whitespace');
              return;
            }
            if (this.attrCount >= this.limits.maxAttributes) {
              this.fail('policy-violation', 'too many attributes');
              return;
            }
            this.state = ATTR_NAME;
            this.name = '';
            this.nameFrom = pos;
            pos++;
          } else {
            this.fail('not-well-formed', 'malformed start tag');
            return;
          }
          break;
        }
        case ATTR_EQ: {
          const c = data.charCodeAt(pos);
          if (c === 61 /* = */) this.state = ATTR_QUOTE;
          else if (!isSpace(c)) {
            this.fail('not-well-formed', 'an attribute without a value');
            return;
          }
          pos++;
          break;
        }
        case ATTR_QUOTE: {
          const c = data.charCodeAt(pos);
          if (c === 34 /* " */ || c === 39 /* ' */) {
            this.quote = c;
            this.state = ATTR_VALUE;
            this.partFrom = pos + 1;
          } else if (!isSpace(c)) {
            this.fail('not-well-formed', 'an unquoted attribute value');
            return;
          }
          pos++;
          break;
        }
        case ATTR_VALUE: {
          const end = data.indexOf(this.quote === 34 ? '"' : "'", pos);
          const stop = end < 0 ? len : end;
          const lt = data.indexOf('<', pos);
          if (lt >= 0 && lt < stop) {
            this.fail('not-well-formed', "'<' in an attribute value");
            return;
          }
          if (end < 0) {
            this.parts.push(data.slice(this.partFrom));
            this.partFrom = 0;
            return;
          }
          this.parts.push(data.slice(this.partFrom, end));
          pos = end + 1;
          if (!this.endAttribute()) return;
          break;
        }
        case SLASH:
          if (data.charCodeAt(pos) !== 62 /* > */) {
            this.fail('not-well-formed', "'/' not followed by '>'");
            return;
          }
          pos++;
          this.openTag(true, pos);
          break;
        default:
          return;
      }
    }
    // Keep what the chunk left unfinished (names are bounded, values and text are in parts).
    if (this.failed) return;
    if (this.state === START_NAME || this.state === END_NAME || this.state === ATTR_NAME) {
      this.name += data.slice(this.nameFrom);
      this.nameFrom = 0;
    } else if (this.state === CDATA || this.state === ATTR_VALUE) {
      this.partFrom = 0;
    }
  }

  /** Reads name characters from `pos`; returns where it stopped. */
  private readName(data: string, pos: number): number {
    const len = data.length;
    const max = this.limits.maxNameLength;
    const first = this.nameFrom;
    let p = pos;
    while (p < len && isNameChar(data.charCodeAt(p))) p++;
    if (this.name.length + (p - first) > max) {
      this.fail('policy-violation', 'an XML name is too long');
      return len;
    }
    if (p === len) return p; // the name goes on in the next chunk
    const name = this.name + data.slice(first, p);
    const c = data.charCodeAt(p);
    const state = this.state;
    if (state === END_NAME && name === '') {
      this.fail('not-well-formed', 'malformed end tag');
      return len;
    }
    this.name = name;
    if (state === START_NAME) {
      this.elementName = name;
      if (c === 62 /* > */) {
        this.openTag(false, p + 1);
        return p + 1;
      }
      if (c === 47 /* / */) {
        this.state = SLASH;
        return p + 1;
      }
      if (isSpace(c)) {
        this.state = TAG;
        this.spaced = true;
        return p + 1;
      }
      this.fail('not-well-formed', 'malformed start tag');
      return len;
    }
    if (state === END_NAME) {
      if (c === 62 /* > */) {
        this.closeTag(p + 1);
        return p + 1;
      }
      if (isSpace(c)) {
        this.state = END_SPACE;
        return p + 1;
      }
      this.fail('not-well-formed', 'malformed end tag');
      return len;
    }
    // ATTR_NAME
    if (c === 61 /* = */) {
      this.state = ATTR_QUOTE;
      return p + 1;
    }
    if (isSpace(c)) {
      this.state = ATTR_EQ;
      return p + 1;
    }
    this.fail('not-well-formed', 'malformed attribute');
    return len;
  }

  private endAttribute(): boolean {
    const raw = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    let value: string;
    try {
      value = this.resolve(raw);
    } catch (error) {
      this.fail('not-well-formed', (error as Error).message);
      return false;
    }
    const name = this.name;
    if (name in this.attrs) {
      this.fail('not-well-formed', `duplicate attribute ${name}`);
      return false;
    }
    this.attrs[name] = value;
    this.attrCount++;
    this.spaced = false;
    this.state = TAG;
    return true;
  }

  /** Entities resolved and characters checked (throws `EntityError`). */
  private resolve(raw: string): string {
    if (INVALID_CHARS.test(raw)) throw new EntityError('a character XML does not allow');
    return resolveEntities(raw);
  }

  /** A text run ended at `<`: resolve it into the element's text. */
  private endTextRun(): boolean {
    const parts = this.parts;
    if (parts.length === 0) return true;
    const raw = parts.length === 1 ? parts[0]! : parts.join('');
    this.parts = [];
    try {
      this.text.push(this.resolve(raw));
    } catch (error) {
      this.fail('not-well-formed', (error as Error).message);
      return false;
    }
    return true;
  }

  /** Hands the element's pending text to the sink before the next tag. */
  private flushText(): boolean {
    const text = this.text;
    if (text.length === 0) return true;
    this.text = [];
    this.sink.text(text.length === 1 ? text[0]! : text.join(''));
    return !this.failed;
  }

  private openTag(selfClosing: boolean, end: number): void {
    this.tagEnd = end;
    const name = this.elementName;
    const attrs = this.attrs;
    this.attrs = Object.create(null);
    this.state = TEXT;
    this.depth++;
    this.sink.startElement(name, attrs);
    if (selfClosing && !this.failed) this.endElement(name);
  }

  private closeTag(end: number): void {
    this.tagEnd = end;
    this.state = TEXT;
    this.endElement(this.name);
  }

  private endElement(name: string): void {
    this.depth--;
    this.sink.endElement(name);
  }

  /** Inside `<![CDATA[`: up to `]]>`, which may be split across chunks. */
  private cdata(data: string, pos: number): number {
    const len = data.length;
    let p = pos;
    while (p < len) {
      const c = data.charCodeAt(p++);
      if (c === 93 /* ] */) this.brackets++;
      else if (c === 62 /* > */ && this.brackets >= 2) {
        // The content is everything before the final "]]" (some of which may be in `parts`).
        this.parts.push(data.slice(this.partFrom, p));
        let raw = this.parts.join('');
        this.parts = [];
        raw = raw.slice(0, raw.length - 3);
        if (INVALID_CHARS.test(raw)) {
          this.fail('not-well-formed', 'a character XML does not allow');
          return len;
        }
        if (raw !== '') this.text.push(raw);
        this.state = TEXT;
        return p;
      } else this.brackets = 0;
    }
    this.parts.push(data.slice(this.partFrom));
    return len;
  }

  /** `<?xml …?>` (the declaration clients send before each stream header): skipped. */
  private declaration(data: string, pos: number): number {
    const len = data.length;
    let p = pos;
    while (p < len) {
      const c = data.charCodeAt(p++);
      if (++this.piLength > MAX_DECLARATION) {
        this.fail('policy-violation', 'the XML declaration is too long');
        return len;
      }
      if (this.piMatched < 3) {
        if (c !== 'xml'.charCodeAt(this.piMatched)) {
          this.fail('restricted-xml', 'processing instructions are not allowed');
          return len;
        }
        this.piMatched++;
        continue;
      }
      if (this.piMatched === 3) {
        if (!isSpace(c)) {
          this.fail('restricted-xml', 'processing instructions are not allowed');
          return len;
        }
        this.piMatched++;
        continue;
      }
      if (c === 62 /* > */ && this.piQuestion) {
        this.state = TEXT;
        return p;
      }
      this.piQuestion = c === 63; /* ? */
    }
    return len;
  }
}
