import { Element, escapeXML, escapeXMLText } from '@xmpp/xml';
import type { StreamErrorCondition } from '../errors.ts';

export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** XEP-0440: the channel binding types a server has. */
const NS_SASL_CB = 'urn:xmpp:sasl-cb:0';
const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

/**
 * The response stream header (RFC 6120 §4.7), in the stream's language: the client's `xml:lang`,
 * else the server's (`xmpp_stream_in:send_header/2` selects it so).
 */
export function streamHeader(id: string, from: string, lang: string): string {
  return (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
    "xmlns:stream='http://etherx.jabber.org/streams' " +
    `id='${escapeXML(id)}' from='${escapeXML(from)}' version='1.0' xml:lang='${escapeXML(lang)}'>`
  );
}

/**
 * Stream features before authentication: STARTTLS (RFC 6120 §5.4.1, alone when required), the
 * SASL mechanisms (RFC 6120 §6.4.1) and the channel binding types (XEP-0440).
 */
export function authFeatures(
  mechanisms: readonly string[],
  starttls: 'none' | 'optional' | 'required',
  bindings: readonly string[],
): string {
  let f = '<stream:features>';
  if (starttls === 'required')
    return `${f}<starttls xmlns='${NS_TLS}'><required/></starttls></stream:features>`;
  if (starttls === 'optional') f += `<starttls xmlns='${NS_TLS}'/>`;
  f += `<mechanisms xmlns='${NS_SASL}'>`;
  for (const name of mechanisms) f += `<mechanism>${name}</mechanism>`;
  f += '</mechanisms>';
  if (bindings.length > 0) {
    f += `<sasl-channel-binding xmlns='${NS_SASL_CB}'>`;
    for (const type of bindings) f += `<channel-binding type='${type}'/>`;
    f += '</sasl-channel-binding>';
  }
  return `${f}</stream:features>`;
}

/** STARTTLS accepted: TLS starts right after this (RFC 6120 §5.4.2.3). */
export const STARTTLS_PROCEED = `<proceed xmlns='${NS_TLS}'/>`;

/** STARTTLS refused: the stream closes after this (RFC 6120 §5.4.2.2). */
export const STARTTLS_FAILURE = `<failure xmlns='${NS_TLS}'/>`;

/** SASL before the required STARTTLS (RFC 6120 §6.5.3, `encryption-required`). */
export const ENCRYPTION_REQUIRED = `<failure xmlns='${NS_SASL}'><encryption-required/></failure>`;

/** Stream features after authentication: bind, the legacy session marked optional, and roster versioning (XEP-0237). */
/** The same with XEP-0198 offered. */
export const BIND_FEATURES_SM = `<stream:features><bind xmlns='${NS_BIND}'/><session xmlns='${NS_SESSION}'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>`;
export const BIND_FEATURES = `<stream:features><bind xmlns='${NS_BIND}'/><session xmlns='${NS_SESSION}'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>`;

/** `<stream:error>` (RFC 6120 §4.9); its text is English, marked so. */
export function streamError(condition: StreamErrorCondition, text?: string): string {
  const t =
    text === undefined ? '' : `<text xmlns='${NS_STREAMS}' xml:lang='en'>${escapeXMLText(text)}</text>`;
  return `<stream:error><${condition} xmlns='${NS_STREAMS}'/>${t}</stream:error>`;
}

export const STREAM_END = '</stream:stream>';

export function saslChallenge(data: string): string {
  return `<challenge xmlns='${NS_SASL}'>${Buffer.from(data).toString('base64')}</challenge>`;
}

export function saslSuccess(data: string | undefined): string {
  if (data === undefined) return `<success xmlns='${NS_SASL}'/>`;
  return `<success xmlns='${NS_SASL}'>${Buffer.from(data).toString('base64')}</success>`;
}

export function saslFailure(condition: string, text?: string): string {
  const t = text === undefined ? '' : `<text xml:lang='en'>${escapeXMLText(text)}</text>`;
  return `<failure xmlns='${NS_SASL}'><${condition}/>${t}</failure>`;
}

/** Decodes a SASL payload: `=` is the empty response (RFC 6120 §6.4.2). */
export function decodeSasl(text: string): Buffer | undefined {
  const t = text.trim();
  if (t === '=' || t === '') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined;
  return Buffer.from(t, 'base64');
}

/** An attribute value, every markup character as a numeric reference. */
function escapeAttr(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Character data, `&`, `<` and `>` as numeric references. */
function escapeText(value: string): string {
  return value.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The result of a resource bind (RFC 6120 §7.6.1): the full JID bound. */
export function bindResult(id: string | undefined, jid: string): string {
  return `<iq type='result' id='${escapeAttr(id)}'><bind xmlns='${NS_BIND}'><jid>${escapeText(jid)}</jid></bind></iq>`;
}

/** An empty IQ result (the answer to the legacy session establishment, RFC 3921 §3). */
export function iqResult(id: string | undefined): string {
  return `<iq type='result' id='${escapeAttr(id)}'/>`;
}

/** The unavailable presence a closing session sends to the user's other resources. */
export function presenceUnavailable(from: string, to: string): Element {
  return new Element('presence', { from, to, type: 'unavailable' });
}
