import { Element } from '@xmpp/xml';
import { copyElement } from './internal/copyElement.ts';

/** The stanza error conditions the session manager produces (RFC 6120 §8.3.3). */
export type StanzaErrorCondition = 'service-unavailable' | 'internal-server-error' | 'bad-request';

/** The error type of each condition, as ejabberd's `xmpp` library sets it. */
export const STANZA_ERROR_TYPES: Readonly<Record<StanzaErrorCondition, 'cancel' | 'wait' | 'modify'>> = {
  'service-unavailable': 'cancel',
  'internal-server-error': 'wait',
  'bad-request': 'modify',
};

const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/**
 * True when `stanza` may be answered with an error: never an error, never an IQ result
 * (`ejabberd_router:route_error`, spec §3.2 row 5).
 */
export function mayAnswerWithError(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (type === 'error') return false;
  if (stanza.name === 'iq' && type === 'result') return false;
  return true;
}

/**
 * The error reply to `stanza` (`xmpp:make_error/2`): same name and id, `from` and `to` swapped,
 * `type='error'`, the original children kept and an `<error/>` appended. `undefined` when the
 * stanza must not be answered ({@link mayAnswerWithError}).
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
  if (text !== undefined) error.c('text', { xmlns: STANZAS_NS }).t(text);
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
