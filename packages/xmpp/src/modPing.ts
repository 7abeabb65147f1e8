import { Element } from '@xmpp/xml';
import type { XmppModule } from './XmppModule.ts';

/** XEP-0199's namespace. */
export const NS_PING = 'urn:xmpp:ping';

function pong(iq: Element): Element {
  const attrs: Record<string, string> = { type: 'result' };
  if (iq.attrs.id !== undefined) attrs.id = iq.attrs.id;
  if (iq.attrs.to !== undefined) attrs.from = iq.attrs.to;
  if (iq.attrs.from !== undefined) attrs.to = iq.attrs.from;
  return new Element('iq', attrs);
}

/**
 * XEP-0199 ping (ejabberd's `mod_ping`, answering part): a ping to a served host, and a ping to
 * any user's bare JID (answered by the server on the account's behalf, online or not, as
 * ejabberd does), get an empty result. Pings to full JIDs reach the client itself.
 */
export function modPing(): XmppModule {
  const handler = (iq: Element) => (iq.attrs.type === 'get' ? pong(iq) : pong(iq));
  return {
    name: 'mod_ping',
    start(server) {
      for (const host of server.hosts) {
        server.registerLocalIqHandler(host, NS_PING, handler);
        server.sm.registerIqHandler(host, NS_PING, handler);
      }
    },
    stop(server) {
      for (const host of server.hosts) {
        server.unregisterLocalIqHandler(host, NS_PING);
        server.sm.unregisterIqHandler(host, NS_PING);
      }
    },
  };
}
