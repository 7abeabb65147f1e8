import { type ActorRef, andThen, type MaybePromise } from '@otp-chat/actor';
import { type Jid, nameprep, nodeprep, parseJid } from '@otp-chat/jid';
import { IqDecodeError, makeErrorReply } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import { bareOf, iqChild, iqResult, KeyedQueue, sendToConnection, usOf } from './internal/moduleKit.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

/** XEP-0191's namespaces. */
export const NS_BLOCKING = 'urn:xmpp:blocking';
export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';

const TABLE = 'blocklist';
/** Before mod_roster, mod_presence and carbons: a blocked stanza goes no further. */
const SEQ = 40;

/** The JIDs an item may name that match `j` (XEP-0016 §2.1 order: full, bare, domain/resource, domain). */
function candidates(j: Jid): string[] {
  const out = [j.toString(), bareOf(j), j.lserver];
  if (j.lresource !== '') out.push(`${j.lserver}/${j.lresource}`);
  return out;
}

/**
 * The blocking command (XEP-0191, ejabberd's `mod_blocking` over `mod_privacy`):
 *
 * - `urn:xmpp:blocking` IQs on the user's own bare JID: get the blocklist, `<block/>` (at least one
 *   item) and `<unblock/>` (no item: unblock everyone), each change pushed to the user's resources;
 *   blocking a contact sends it `unavailable` from each available resource (XEP-0191 §3.3);
 * - enforced in routing, for messages, presences and IQs: a stanza *to* a user from a JID on the
 *   user's list is refused on `sm_receive_packet` (messages and IQ get/set get `service-unavailable`,
 *   XEP-0191 §3.3, presence and other IQs are dropped), and on `privacy_check_packet` `in` (offline
 *   storage, subscriptions); a stanza *from* a user to a JID on the user's list is refused on
 *   `user_send_packet` with `not-acceptable` and `<blocked xmlns='urn:xmpp:blocking:errors'/>`
 *   (XEP-0191 §3.4), and on `privacy_check_packet` `out` (presence broadcasts).
 *
 * The list is in the server's `ModuleStore`; with the memory store the check is synchronous.
 */
export function modBlocking(options: { readonly maxItems?: number } = {}): XmppModule & {
  /** The user's blocklist, sorted. */
  blocklist(luser: string, lserver: string): Promise<string[]>;
} {
  const maxItems = options.maxItems ?? DEFAULTS.maxBlocklistItems;
  const queue = new KeyedQueue();
  let server: XmppServer | undefined;
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_blocking is not started');
    return server;
  };

  const list = (luser: string, lserver: string): MaybePromise<ReadonlyMap<string, string>> =>
    srv().store.getAll(TABLE, usOf(luser, lserver));

  /** True when `owner`'s list names `other`. */
  const blocks = (owner: Jid, other: Jid): MaybePromise<boolean> => {
    if (owner.luser === '' || (owner.luser === other.luser && owner.lserver === other.lserver)) return false;
    return andThen(list(owner.luser, owner.lserver), (m) => {
      if (m.size === 0) return false;
      for (const c of candidates(other)) if (m.has(c)) return true;
      return false;
    });
  };

  /**
   * The error to the sender: routed for an inbound stanza; handed to the sender's own connection
   * for an outbound one (routed, it would come from the JID the sender blocks, and be dropped).
   */
  const answerOrDrop = (
    stanza: Element,
    condition: 'service-unavailable' | 'not-acceptable',
    ref?: ActorRef,
  ) => {
    const type = stanza.attrs.type;
    if (stanza.name === 'message' || (stanza.name === 'iq' && (type === 'get' || type === 'set'))) {
      const reply = makeErrorReply(stanza, condition);
      if (reply !== undefined) {
        if (ref === undefined) srv().route(reply);
        else {
          reply.getChild('error')?.c('blocked', { xmlns: NS_BLOCKING_ERRORS });
          sendToConnection(srv(), ref, reply);
        }
      }
    }
    return 'drop' as const;
  };

  const parse = (text: unknown): Jid | undefined => {
    try {
      return parseJid(String(text ?? ''));
    } catch {
      return undefined;
    }
  };

  /** Inbound: the recipient blocked the sender. */
  const receive = (acc: Element | 'drop'): MaybePromise<Element | 'drop'> => {
    if (acc === 'drop') return acc;
    const to = parse(acc.attrs.to);
    const from = parse(acc.attrs.from);
    if (to === undefined || from === undefined) return acc;
    return andThen(blocks(to, from), (b) => (b ? answerOrDrop(acc, 'service-unavailable') : acc));
  };

  /** Outbound: the sender blocked the recipient. */
  const send = (acc: Element | 'drop', j: Jid, ref: ActorRef): MaybePromise<Element | 'drop'> => {
    if (acc === 'drop') return acc;
    const to = parse(acc.attrs.to);
    // The user's own server (a ping, disco) is never blocked, and needs no store read.
    if (to === undefined || (to.luser === '' && to.lserver === j.lserver)) return acc;
    return andThen(blocks(j, to), (b) => (b ? answerOrDrop(acc, 'not-acceptable', ref) : acc));
  };

  const privacy = (
    acc: 'allow' | 'deny',
    to: Jid,
    packet: Element,
    direction: 'in' | 'out',
  ): MaybePromise<'allow' | 'deny'> => {
    if (acc === 'deny') return acc;
    const from = parse(packet.attrs.from);
    if (from === undefined) return acc;
    const b = direction === 'in' ? blocks(to, from) : blocks(from, to);
    return andThen(b, (x) => (x ? 'deny' : 'allow'));
  };

  const pushToResources = async (luser: string, lserver: string, child: Element) => {
    const s = srv();
    const bare = usOf(luser, lserver);
    for (const resource of await s.sm.getUserResources(luser, lserver)) {
      const iq = new Element('iq', {
        type: 'set',
        id: `push${Math.random().toString(36).slice(2, 10)}`,
        from: bare,
        to: `${bare}/${resource}`,
      });
      s.route(iq.cnode(child).root());
    }
  };

  const itemsOf = (el: Element): string[] | 'malformed' => {
    const out: string[] = [];
    for (const item of el.getChildren('item')) {
      const j = parse(item.attrs.jid);
      if (j === undefined) return 'malformed';
      out.push(j.toString());
    }
    return out;
  };

  const listElement = (name: string, jids: readonly string[]) => {
    const e = new Element(name, { xmlns: NS_BLOCKING });
    for (const j of jids) e.c('item', { jid: j });
    return e;
  };

  const handleIq = async (iq: Element): Promise<Element> => {
    const from = parseJid(String(iq.attrs.from));
    const to = parseJid(String(iq.attrs.to));
    if (from.luser !== to.luser || from.lserver !== to.lserver) return makeErrorReply(iq, 'forbidden')!;
    const child = iqChild(iq);
    if (child.attrs.xmlns !== NS_BLOCKING) throw new IqDecodeError(NS_BLOCKING, 'not a blocking element');
    const us = usOf(from.luser, from.lserver);
    const s = srv();
    if (iq.attrs.type === 'get') {
      if (child.name !== 'blocklist') return makeErrorReply(iq, 'bad-request')!;
      return iqResult(iq, listElement('blocklist', [...(await s.store.getAll(TABLE, us)).keys()].sort()));
    }
    if (child.name !== 'block' && child.name !== 'unblock') return makeErrorReply(iq, 'bad-request')!;
    const jids = itemsOf(child);
    if (jids === 'malformed') return makeErrorReply(iq, 'jid-malformed')!;
    if (child.name === 'block') {
      if (jids.length === 0) return makeErrorReply(iq, 'bad-request', 'No items to block')!;
      const ok = await queue.run(us, async () => {
        const current = await s.store.getAll(TABLE, us);
        const fresh = jids.filter((j) => !current.has(j));
        if (current.size + fresh.length > maxItems) return false;
        for (const j of fresh) await s.store.set(TABLE, us, j, '1');
        return true;
      });
      if (!ok) return makeErrorReply(iq, 'not-allowed', 'Too many blocked JIDs')!;
      await pushToResources(from.luser, from.lserver, listElement('block', jids));
      for (const { resource, info } of await s.sm.getUserInfo(from.luser, from.lserver)) {
        if (info.priority === undefined) continue;
        for (const j of jids)
          s.route(new Element('presence', { type: 'unavailable', from: `${us}/${resource}`, to: j }));
      }
      return iqResult(iq);
    }
    await queue.run(us, async () => {
      if (jids.length === 0) await s.store.deleteAll(TABLE, us);
      else for (const j of jids) await s.store.delete(TABLE, us, j);
    });
    await pushToResources(from.luser, from.lserver, listElement('unblock', jids));
    return iqResult(iq);
  };

  const feature = (acc: readonly string[]) => [...acc, NS_BLOCKING];

  const removeUser = async (user: string, host: string) => {
    try {
      await srv().store.deleteAll(TABLE, usOf(nodeprep(user), nameprep(host)));
    } catch {
      // not a valid JID: nothing stored under it
    }
  };

  // The per-host hooks: one list for start and stop (a hook is deleted with exactly the
  // arguments it was added with, as ejabberd_hooks requires).
  function hostHooks(s: XmppServer, op: 'add' | 'delete', host: string): void {
    s.hooks[op]('sm_receive_packet', host, receive, SEQ);
    s.hooks[op]('user_send_packet', host, send, SEQ);
    s.hooks[op]('privacy_check_packet', host, privacy, SEQ);
    s.hooks[op]('disco_local_features', host, feature, SEQ);
    s.hooks[op]('remove_user', host, removeUser, SEQ);
  }

  return {
    name: 'mod_blocking',
    blocklist: async (luser, lserver) => [...(await list(luser, lserver)).keys()].sort(),
    start(s) {
      server = s;
      for (const host of s.hosts) {
        s.sm.registerIqHandler(host, NS_BLOCKING, handleIq);
        hostHooks(s, 'add', host);
      }
    },
    stop(s) {
      for (const host of s.hosts) {
        s.sm.unregisterIqHandler(host, NS_BLOCKING);
        hostHooks(s, 'delete', host);
      }
    },
  };
}
