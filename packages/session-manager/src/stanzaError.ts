import { Element } from '@xmpp/xml';
import { copyElement } from './internal/copyElement.ts';

/**
 * The defined stanza error conditions (RFC 6120 §8.3.3) that carry no data of their own (`gone`
 * and `redirect`, which carry a URI, and `undefined-condition`, whose type the sender picks, are
 * not built here).
 */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'unexpected-request';

/** The type of each condition's `<error/>`, as ejabberd's `xmpp:err_bad_request/0` and its siblings set it. */
export const STANZA_ERROR_TYPES: Readonly<
  Record<StanzaErrorCondition, 'auth' | 'cancel' | 'modify' | 'wait'>
> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  // RFC 6120 says cancel; ejabberd (after RFC 3920 and XEP-0086) says wait.
  'internal-server-error': 'wait',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'unexpected-request': 'wait',
};

const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/**
 * True when `stanza` may be answered with an error: never an error, never an IQ result
 * (`ejabberd_router:route_error/2`; RFC 6120 §8.3.1).
 */
export function mayAnswerWithError(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (stanza.name === 'iq' && type === 'result') return false;
  return true;
}

/**
 * The error reply to `stanza`, as `xmpp:make_error/2` builds it with an `xmpp:err_…(Text, Lang)`:
 * the same name and attributes (`id`, `xml:lang`, …), `from` and `to` swapped, `type='error'`,
 * the original children kept (copied) and an `<error/>` appended, whose `<text/>` (when given)
 * is marked `xml:lang='en'` (the texts are English, untranslated). `undefined` when the stanza
 * must not be answered ({@link mayAnswerWithError}). The one stanza-error builder of otp-chat:
 * the session manager, the IQ handler table, the router and the C2S all answer with it.
 */
export function makeErrorReply(
  stanza: Element,
  condition: StanzaErrorCondition,
  text?: string,
): Element | undefined {
  if (!mayAnswerWithError(stanza)) return undefined;
  const attrs: Record<string, string> = { ...stanza.attrs, type: 'error' };
  delete attrs.to;
  delete attrs.from;
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  const reply = new Element(stanza.name, attrs);
  for (const child of stanza.children) {
    if (typeof child === 'string') reply.t(child);
    else reply.cnode(copyElement(child));
  }
  const error = reply.c('error', { type: STANZA_ERROR_TYPES[condition] });
  error.c(condition, { xmlns: STANZAS_NS });
  if (text !== undefined) error.c('text', { xmlns: STANZAS_NS, 'xml:lang': 'en' }).t(text);
  return reply;
}

/** The condition of an error stanza (the first child of `<error/>` in the stanzas namespace). */
export function errorCondition(stanza: Element): string | undefined {
  const error = stanza.getChild('error');
  if (error === undefined) return undefined;
  for (const child of error.children) {
    if (typeof child !== 'string' && child.attrs.xmlns === STANZAS_NS && child.name !== 'text') {
      return child.name;
    }
  }
  return undefined;
}

/** The text of an error stanza, if any. */
export function errorText(stanza: Element): string | undefined {
  return stanza.getChild('error')?.getChildText('text', STANZAS_NS) ?? undefined;
}
