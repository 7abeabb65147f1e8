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

/** An XML element (a stanza) crosses nodes as its text (`toString()`), parsed back on arrival. */
export const xmlElementCodec: MessageCodec<Element> = {
  tag: 'xml',
  type: Element,
  encode: (element) => element.toString(),
  decode: (wire) => reader.read(String(wire)),
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
