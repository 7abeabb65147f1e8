import { type CodecRegistry, type MessageCodec, MessageDecodeError } from '@otp-chat/actor';
import { Jid, parseJid } from '@otp-chat/jid';
import { Element, Parser } from '@xmpp/xml';

/**
 * Stanzas parsed back from their text: one `@xmpp/xml` stream parser kept open under a synthetic
 * root, fed one stanza at a time (what a c2s stream parser does), replaced after an error.
 */
class StanzaReader {
  private parser: Parser | undefined;
  private got: Element | undefined;
  private failed: unknown;

  read(text: string): Element {
    const parser = this.parser ?? this.open();
    this.got = undefined;
    this.failed = undefined;
    parser.write(text);
    const got = this.got as Element | undefined;
    if (this.failed !== undefined || got === undefined || parser.cursor !== parser.root) {
      this.parser = undefined;
      throw new MessageDecodeError('$', 'not one XML element', { cause: this.failed });
    }
    got.parent = null;
    return got;
  }

  private open(): Parser {
    const parser = new Parser();
    parser.on('element', (element: Element) => {
      this.got = element;
    });
    parser.on('error', (error: unknown) => {
      this.failed = error;
    });
    parser.write('<r>');
    this.parser = parser;
    return parser;
  }
}

const reader = new StanzaReader();

const TEXT = Symbol('text');

/** A stanza that arrived from another node, as its text until something reads it. */
interface Received {
  [TEXT]: string | undefined;
}

/**
 * A stanza received from another node: an `Element` that keeps the text it crossed as, and is
 * parsed only when something reads its `name`, `attrs` or `children`. Writing it to a client
 * (`toString()`), which is all a connection does with a routed stanza, costs neither a parse nor a
 * new serialisation; any other use parses it first, so it behaves as the element it was.
 */
class ReceivedElement extends Element {
  constructor(text: string) {
    super('');
    (this as unknown as Received)[TEXT] = text;
  }

  override toString(): string {
    const text = (this as unknown as Received)[TEXT];
    return text !== undefined ? text : super.toString();
  }
}

function materialize(element: ReceivedElement): void {
  const self = element as unknown as Received;
  const text = self[TEXT];
  self[TEXT] = undefined;
  const parsed = reader.read(text!);
  element.name = parsed.name;
  element.attrs = parsed.attrs;
  element.children = parsed.children;
  for (const child of element.children) if (typeof child !== 'string') child.parent = element;
}

// `name`, `attrs` and `children` are accessors on ReceivedElement: reading one parses the text.
for (const key of ['name', 'attrs', 'children'] as const) {
  const slot = Symbol(key);
  Object.defineProperty(ReceivedElement.prototype, key, {
    get(this: ReceivedElement & Received & Record<symbol, unknown>) {
      if (this[TEXT] !== undefined) materialize(this);
      return this[slot];
    },
    set(this: Record<symbol, unknown>, value: unknown) {
      this[slot] = value;
    },
  });
}

/**
 * The text a stanza arrived with from another node, while nothing has read (or changed) it since:
 * a connection writes that text as it is, instead of serialising the element again (which would
 * first parse it). `undefined` for any other element.
 */
export function receivedText(element: Element): string | undefined {
  return element instanceof ReceivedElement ? (element as unknown as Received)[TEXT] : undefined;
}

/**
 * An XML element (a stanza) crosses nodes as its text (`toString()`); on arrival it is an
 * `Element` parsed on first use (a `ReceivedElement`: writing it back out uses the text as is).
 */
export const xmlElementCodec: MessageCodec<Element> = {
  tag: 'xml',
  type: Element,
  encode: (element) => element.toString(),
  decode: (wire) => {
    if (typeof wire !== 'string') throw new MessageDecodeError('$', 'a stanza crosses as text');
    return new ReceivedElement(wire);
  },
};

/** A JID crosses as its string form, prepared again on arrival. */
export const jidCodec: MessageCodec<Jid> = {
  tag: 'jid',
  type: Jid,
  encode: (jid) => jid.toString(),
  decode: (wire) => parseJid(String(wire)),
};

/**
 * Registers the codecs of what the session manager sends to connections (`ConnectionMessage`:
 * stanzas, and JIDs in terms routed with `route/2`), so that they reach connections on other
 * nodes. Called by every `SessionManager` on its system's registry; idempotent.
 */
export function registerSessionManagerCodecs(codecs: CodecRegistry): void {
  codecs.register(xmlElementCodec);
  codecs.register(jidCodec);
}
