import { type Jid, parseJid } from '@otp-chat/jid';
import { IqDecodeError, makeErrorReply } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { bareOf, iqChild, iqResult } from './internal/moduleKit.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** Options of {@link modDisco}. */
export interface ModDiscoOptions {
  /** The server identity's name. @default 'otp-chat' */
  readonly name?: string;
}

/**
 * Service discovery (XEP-0030, ejabberd's `mod_disco`): `disco#info` and `disco#items` on a served
 * host and on every user's bare JID. The features listed are exactly what runs: the namespaces of
 * the IQ handlers registered at that moment (the host's own table for the server, the session
 * manager's for an account) plus what modules add on `disco_local_features` and
 * `disco_sm_features` (carbons, blocking, offline storage). A bare JID answers its own user and
 * contacts it has granted a subscription (`from`/`both`); others get `service-unavailable`, as
 * `mod_disco:process_sm_iq_info/1`. No items are listed (no components, no PEP nodes).
 */
export function modDisco(options: ModDiscoOptions = {}): XmppModule & {
  /** The server's features for `host`, sorted (what `disco#info` lists). */
  serverFeatures(host: string): Promise<string[]>;
  /** The features of a user's bare JID on `host`, sorted. */
  accountFeatures(host: string): Promise<string[]>;
} {
  const name = options.name ?? 'otp-chat';
  let server: XmppServer | undefined;
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_disco is not started');
    return server;
  };

  const serverFeatures = async (host: string): Promise<string[]> => {
    const s = srv();
    const extra = await s.hooks.runFold('disco_local_features', host, []);
    return [...new Set([...s.localIq.features(host), ...extra])].sort();
  };
  const accountFeatures = async (host: string): Promise<string[]> => {
    const s = srv();
    const extra = await s.hooks.runFold('disco_sm_features', host, []);
    return [...new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...s.sm.iqHandlers.features(host), ...extra])].sort();
  };

  const query = (ns: string, node: string | undefined) =>
    new Element('query', node === undefined ? { xmlns: ns } : { xmlns: ns, node });

  const info = (iq: Element, identity: Record<string, string>, features: readonly string[]): Element => {
    const child = iqChild(iq);
    if (iq.attrs.type === 'set') return makeErrorReply(iq, 'not-allowed')!;
    if (child.attrs.node !== undefined) return makeErrorReply(iq, 'item-not-found')!;
    const q = query(NS_DISCO_INFO, undefined);
    q.c('identity', identity);
    for (const f of features) q.c('feature', { var: f });
    return iqResult(iq, q);
  };

  const items = (iq: Element): Element => {
    const child = iqChild(iq);
    if (iq.attrs.type === 'set') return makeErrorReply(iq, 'not-allowed')!;
    if (child.attrs.node !== undefined) return makeErrorReply(iq, 'item-not-found')!;
    return iqResult(iq, query(NS_DISCO_ITEMS, undefined));
  };

  const checkChild = (iq: Element, ns: string) => {
    if (!iqChild(iq).is('query', ns)) throw new IqDecodeError(ns, 'not a disco query');
  };

  const localInfo = async (iq: Element) => {
    checkChild(iq, NS_DISCO_INFO);
    const host = parseJid(String(iq.attrs.to)).lserver;
    return info(iq, { category: 'server', type: 'im', name }, await serverFeatures(host));
  };
  const localItems = (iq: Element) => {
    checkChild(iq, NS_DISCO_ITEMS);
    return items(iq);
  };

  /** A bare JID answers its own user and the contacts it has granted a subscription. */
  const mayAsk = async (iq: Element, to: Jid): Promise<boolean> => {
    const from = parseJid(String(iq.attrs.from));
    if (from.luser === to.luser && from.lserver === to.lserver) return true;
    const item = await srv().hooks.runFold(
      'roster_get_jid_info',
      to.lserver,
      undefined,
      to.luser,
      to.lserver,
      bareOf(from),
    );
    return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
  };

  const smInfo = async (iq: Element) => {
    checkChild(iq, NS_DISCO_INFO);
    const to = parseJid(String(iq.attrs.to));
    if (!(await mayAsk(iq, to))) return makeErrorReply(iq, 'service-unavailable')!;
    return info(iq, { category: 'account', type: 'registered' }, await accountFeatures(to.lserver));
  };
  const smItems = async (iq: Element) => {
    checkChild(iq, NS_DISCO_ITEMS);
    const to = parseJid(String(iq.attrs.to));
    if (!(await mayAsk(iq, to))) return makeErrorReply(iq, 'service-unavailable')!;
    return items(iq);
  };

  return {
    name: 'mod_disco',
    serverFeatures,
    accountFeatures,
    start(s) {
      server = s;
      for (const host of s.hosts) {
        s.registerLocalIqHandler(host, NS_DISCO_INFO, localInfo);
        s.registerLocalIqHandler(host, NS_DISCO_ITEMS, localItems);
        s.sm.registerIqHandler(host, NS_DISCO_INFO, smInfo);
        s.sm.registerIqHandler(host, NS_DISCO_ITEMS, smItems);
      }
    },
    stop(s) {
      for (const host of s.hosts) {
        s.unregisterLocalIqHandler(host, NS_DISCO_INFO);
        s.unregisterLocalIqHandler(host, NS_DISCO_ITEMS);
        s.sm.unregisterIqHandler(host, NS_DISCO_INFO);
        s.sm.unregisterIqHandler(host, NS_DISCO_ITEMS);
      }
    },
  };
}
