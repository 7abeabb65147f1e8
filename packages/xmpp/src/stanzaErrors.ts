import { Element } from '@xmpp/xml';
import { NS_STANZAS } from './internal/wire.ts';

/** The stanza error conditions the C2S and the local router answer with (RFC 6120 §8.3.3). */
export type C2SStanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'internal-server-error'
  | 'jid-malformed'
  | 'not-allowed'
  | 'remote-server-not-found'
  | 'service-unavailable';

const TYPES: Readonly<Record<C2SStanzaErrorCondition, 'cancel' | 'modify' | 'wait' | 'auth'>> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  'internal-server-error': 'wait',
  'jid-malformed': 'modify',
  'not-allowed': 'cancel',
  'remote-server-not-found': 'cancel',
  'service-unavailable': 'cancel',
};

/**
 * The error reply to `stanza` (`xmpp:make_error/2`): same name and id, `from`/`to` swapped,
 * `type='error'`, an `<error/>` child. `undefined` for an error or an IQ result, which are never
 * answered with an error (RFC 6120 §8.3.1).
 */
export function stanzaErrorReply(
  stanza: Element,
  condition: C2SStanzaErrorCondition,
  text?: string,
): Element | undefined {
  const type = stanza.attrs.type;
  if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return undefined;
  const attrs: Record<string, string> = { type: 'error' };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  const reply = new Element(stanza.name, attrs);
  const error = reply.c('error', { type: TYPES[condition] });
  error.c(condition, { xmlns: NS_STANZAS });
  if (text !== undefined) error.c('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }).t(text);
  return reply;
}
