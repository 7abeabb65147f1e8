import type { ActorRef } from '@otp-chat/actor';
import { type Jid, nameprep, nodeprep, parseJid } from '@otp-chat/jid';
import { callGetPresence, IqDecodeError, makeErrorReply } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import type { RosterItem } from './hooks.ts';
import { bareOf, iqChild, iqResult, KeyedQueue, sendToConnection, usOf } from './internal/moduleKit.ts';
import {
  inAutoReply,
  inStateChange,
  isSubscriptionType,
  outStateChange,
  type SubscriptionType,
} from './rosterSubscription.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

/** RFC 6121's roster namespace. */
export const NS_ROSTER = 'jabber:iq:roster';
/** XEP-0237's stream feature namespace. */
export const NS_ROSTER_VER = 'urn:xmpp:features:rosterver';

/** Options of {@link modRoster}. */
export interface ModRosterOptions {
  /** Roster versioning (XEP-0237, `mod_roster`'s `versioning`). @default true (ejabberd: false) */
  readonly versioning?: boolean;
  /** @default DEFAULTS.maxRosterItems */
  readonly maxItems?: number;
}

/** The roster API other modules and tests use. */
export interface RosterApi {
  /** Every item of the user's roster, pending inbound requests included. */
  getRoster(luser: string, lserver: string): Promise<RosterItem[]>;
  /** The item of `contact` (a bare JID), if any. */
  getItem(luser: string, lserver: string, contact: string): Promise<RosterItem | undefined>;
}

const TABLE = 'roster';
const VERSION_TABLE = 'roster_version';
/** The session info key marking a resource that asked for the roster (RFC 6121 §2.1.6 "interested"). */
const INTERESTED = 'roster_requested';
const SEQ = 50;

function decodeItem(text: string): RosterItem | undefined {
  try {
    return JSON.parse(text) as RosterItem;
  } catch {
    return undefined;
  }
}

/** `mod_roster:encode_item/1`: the `<item/>` a client sees. */
function rosterItemElement(item: RosterItem | { jid: string; subscription: 'remove' }): Element {
  const attrs: Record<string, string> = { jid: item.jid, subscription: item.subscription };
  if ('ask' in item && (item.ask === 'out' || item.ask === 'both')) attrs.ask = 'subscribe';
  if ('name' in item && item.name !== undefined && item.name !== '') attrs.name = item.name;
  const e = new Element('item', attrs);
  if ('groups' in item) for (const g of item.groups) e.c('group').t(g);
  return e;
}

/**
 * Rosters and presence subscriptions (ejabberd's `mod_roster`, RFC 6121 §2 and §3):
 *
 * - `jabber:iq:roster` get and set on a user's own bare JID (another user's: `forbidden`), one
 *   `<item/>` per set, no `ask` attribute, no duplicated group (`bad-request`), `remove` sends the
 *   unsubscribing presences; every change is pushed to each *interested* resource (one that got the
 *   roster), with the new version;
 * - roster versioning (XEP-0237): a counter per user, stored; a get with the current `ver` is
 *   answered with an empty result, then pushes;
 * - the subscription state machine (RFC 6121 Appendix A, `in_state_change/3`,
 *   `out_state_change/3`, `in_auto_reply/3`): outbound subscription presences on `user_send_packet`
 *   (their `from` becomes the bare JID, RFC 6121 §3.1.2), inbound ones on `roster_in_subscription`
 *   (delivered only when the state changed); auto-replies; pending inbound requests are stored with
 *   their status and resent on the user's next initial presence (a contact offline at the time);
 * - gaining or losing a subscription *from* the contact sends the contact each resource's presence
 *   or an unavailable one (`route_presence_change/3`);
 * - `roster_get` and `roster_get_jid_info` for the presence and disco modules; `remove_user`
 *   unsubscribes and drops the roster.
 *
 * Items are in the server's `ModuleStore` (memory, Redis or PostgreSQL); a user's changes run one
 * at a time on this node.
 */
export function modRoster(options: ModRosterOptions = {}): XmppModule & RosterApi {
  const versioning = options.versioning ?? true;
  const maxItems = options.maxItems ?? DEFAULTS.maxRosterItems;
  const queue = new KeyedQueue();
  let server: XmppServer | undefined;
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_roster is not started');
    return server;
  };

  const readAll = async (us: string): Promise<Map<string, RosterItem>> => {
    const raw = await srv().store.getAll(TABLE, us);
    const items = new Map<string, RosterItem>();
    for (const [jid, text] of raw) {
      const item = decodeItem(text);
      if (item !== undefined) items.set(jid, item);
    }
    return items;
  };
  const readItem = async (us: string, contact: string): Promise<RosterItem | undefined> => {
    const text = await srv().store.get(TABLE, us, contact);
    return text === undefined ? undefined : decodeItem(text);
  };
  const writeItem = async (us: string, item: RosterItem): Promise<void> => {
    await srv().store.set(TABLE, us, item.jid, JSON.stringify(item));
  };
  const bumpVersion = async (us: string): Promise<string | undefined> => {
    if (!versioning) return undefined;
    const old = Number((await srv().store.get(VERSION_TABLE, us, 'ver')) ?? '0');
    const ver = String((Number.isSafeInteger(old) ? old : 0) + 1);
    await srv().store.set(VERSION_TABLE, us, 'ver', ver);
    return ver;
  };
  const currentVersion = async (us: string): Promise<string> =>
    (await srv().store.get(VERSION_TABLE, us, 'ver')) ?? (await bumpVersion(us)) ?? '0';

  /** `push_item/3`: the new item to each interested resource, then `route_presence_change/3`. */
  const push = async (
    luser: string,
    lserver: string,
    old: RosterItem | undefined,
    next: RosterItem | { jid: string; subscription: 'remove' },
    ver: string | undefined,
  ): Promise<void> => {
    const s = srv();
    const bare = usOf(luser, lserver);
    const sessions = await s.sm.getUserInfo(luser, lserver);
    for (const { resource, info } of sessions) {
      if (info.info[INTERESTED] === true) {
        const query = new Element(
          'query',
          ver === undefined ? { xmlns: NS_ROSTER } : { xmlns: NS_ROSTER, ver },
        );
        query.cnode(rosterItemElement(next));
        const iq = new Element('iq', {
          type: 'set',
          id: `push${Math.random().toString(36).slice(2, 10)}`,
          from: bare,
          to: `${bare}/${resource}`,
        });
        s.route(iq.cnode(query).root());
      }
    }
    const wasFrom = old !== undefined && (old.subscription === 'from' || old.subscription === 'both');
    const isFrom = next.subscription === 'from' || next.subscription === 'both';
    if (wasFrom === isFrom) return;
    for (const { resource, info } of sessions) {
      if (info.priority === undefined) continue;
      const from = `${bare}/${resource}`;
      if (isFrom) void resendPresence(info.ref, from, next.jid);
      else s.route(new Element('presence', { type: 'unavailable', from, to: next.jid }));
    }
  };

  /** `ejabberd_c2s:resend_presence/2`: the session's last presence, to one contact. */
  const resendPresence = async (ref: ActorRef, from: string, to: string): Promise<void> => {
    const s = srv();
    try {
      const presence = await callGetPresence(s.system, ref);
      if (presence.attrs.type === 'unavailable') return;
      const copy = new Element('presence', { ...presence.attrs, from, to });
      for (const c of presence.children) copy.cnode(c as Element);
      s.route(copy);
    } catch (error) {
      s.logger.debug({ err: error, from, to }, 'mod_roster: no presence to resend');
    }
  };

  const routePresence = (type: string, from: string, to: string, status?: string) => {
    const p = new Element('presence', { type, from, to });
    if (status !== undefined && status !== '') p.c('status').t(status);
    srv().route(p);
  };

  /** `send_unsubscribing_presence/2`. */
  const unsubscribing = (bare: string, item: RosterItem) => {
    if (item.subscription === 'to' || item.subscription === 'both')
      routePresence('unsubscribe', bare, item.jid);
    if (item.subscription === 'from' || item.subscription === 'both')
      routePresence('unsubscribed', bare, item.jid);
  };

  // ---- the IQ (`process_iq/1`) ----

  const handleIq = async (iq: Element): Promise<Element> => {
    const from = parseJid(String(iq.attrs.from));
    const to = parseJid(String(iq.attrs.to));
    if (from.luser !== to.luser || from.lserver !== to.lserver) {
      return makeErrorReply(iq, 'forbidden', 'Query to another users is forbidden')!;
    }
    const query = iqChild(iq);
    if (!query.is('query', NS_ROSTER)) throw new IqDecodeError(NS_ROSTER, 'not a roster query');
    const items = query.getChildren('item');
    return iq.attrs.type === 'get' ? get(iq, from, query, items) : set(iq, from, items);
  };

  const get = async (iq: Element, from: Jid, query: Element, items: Element[]): Promise<Element> => {
    if (items.length > 0)
      return makeErrorReply(iq, 'bad-request', 'The query must not contain <item/> elements')!;
    const s = srv();
    const us = usOf(from.luser, from.lserver);
    const ref = await s.sm.getSessionRef(from.luser, from.lserver, from.lresource);
    if (ref !== undefined)
      await s.sm.setUserInfo(from.luser, from.lserver, from.lresource, INTERESTED, true, ref);
    const requested = query.attrs.ver;
    if (versioning && typeof requested === 'string') {
      const ver = await currentVersion(us);
      if (ver === requested) return iqResult(iq);
      return iqResult(iq, rosterQuery(await visible(us), ver));
    }
    return iqResult(iq, rosterQuery(await visible(us), undefined));
  };

  /** `get_filtered_roster/2`: pending inbound requests are not roster items yet. */
  const visible = async (us: string): Promise<RosterItem[]> =>
    [...(await readAll(us)).values()].filter((i) => !(i.subscription === 'none' && i.ask === 'in'));

  const rosterQuery = (items: readonly RosterItem[], ver: string | undefined): Element => {
    const q = new Element('query', ver === undefined ? { xmlns: NS_ROSTER } : { xmlns: NS_ROSTER, ver });
    for (const i of items) q.cnode(rosterItemElement(i));
    return q;
  };

  const set = async (iq: Element, from: Jid, items: Element[]): Promise<Element> => {
    if (items.length !== 1) {
      return makeErrorReply(iq, 'bad-request', 'Multiple <item/> elements are not allowed by RFC6121')!;
    }
    const el = items[0]!;
    if (el.attrs.ask !== undefined) {
      return makeErrorReply(iq, 'bad-request', "Possessing 'ask' attribute is not allowed by RFC6121")!;
    }
    const groups = el.getChildren('group').map((g) => g.getText());
    if (new Set(groups).size !== groups.length) {
      return makeErrorReply(iq, 'bad-request', 'Duplicated groups are not allowed by RFC6121')!;
    }
    let contact: Jid;
    try {
      contact = parseJid(String(el.attrs.jid ?? ''));
    } catch {
      return makeErrorReply(iq, 'jid-malformed')!;
    }
    const cjid = bareOf(contact);
    const us = usOf(from.luser, from.lserver);
    const remove = el.attrs.subscription === 'remove';
    const name = typeof el.attrs.name === 'string' ? el.attrs.name : undefined;
    const outcome = await queue.run(us, async () => {
      const old = await readItem(us, cjid);
      if (remove) {
        if (old !== undefined) await srv().store.delete(TABLE, us, cjid);
        return { old, next: { jid: cjid, subscription: 'remove' as const }, ver: await bumpVersion(us) };
      }
      if (old === undefined && (await srv().store.getAll(TABLE, us)).size >= maxItems) return 'full' as const;
      const next: RosterItem = {
        jid: cjid,
        ...(name === undefined ? {} : { name }),
        groups,
        subscription: old?.subscription ?? 'none',
        ask: old?.ask ?? 'none',
        ...(old?.askMessage === undefined ? {} : { askMessage: old.askMessage }),
      };
      await writeItem(us, next);
      return { old, next, ver: await bumpVersion(us) };
    });
    if (outcome === 'full') return makeErrorReply(iq, 'not-allowed', 'Too many roster items')!;
    await push(from.luser, from.lserver, outcome.old, outcome.next, outcome.ver);
    if (remove && outcome.old !== undefined) unsubscribing(usOf(from.luser, from.lserver), outcome.old);
    return iqResult(iq);
  };

  // ---- subscriptions (`process_subscription/7`) ----

  const processSubscription = async (
    direction: 'in' | 'out',
    luser: string,
    lserver: string,
    contact: string,
    type: SubscriptionType,
    status: string,
  ): Promise<boolean> => {
    const us = usOf(luser, lserver);
    const r = await queue.run(us, async () => {
      const old = (await readItem(us, contact)) ?? {
        jid: contact,
        groups: [],
        subscription: 'none' as const,
        ask: 'none' as const,
      };
      const change = direction === 'out' ? outStateChange(old, type) : inStateChange(old, type);
      const autoReply = direction === 'in' ? inAutoReply(old, type) : undefined;
      if (change === undefined) return { autoReply, pushed: undefined };
      if (
        change.subscription === 'none' &&
        change.ask === 'none' &&
        old.subscription === 'none' &&
        old.ask === 'in'
      ) {
        await srv().store.delete(TABLE, us, contact);
        return { autoReply, pushed: undefined };
      }
      const askMessage = change.ask === 'in' || change.ask === 'both' ? status : '';
      const { askMessage: _dropped, ...rest } = old;
      const next: RosterItem = {
        ...rest,
        subscription: change.subscription,
        ask: change.ask,
        ...(askMessage === '' ? {} : { askMessage }),
      };
      if (
        !(await srv().store.get(TABLE, us, contact)) &&
        (await srv().store.getAll(TABLE, us)).size >= maxItems
      ) {
        return { autoReply, pushed: undefined };
      }
      await writeItem(us, next);
      return { autoReply, pushed: { old, next, ver: await bumpVersion(us) } };
    });
    if (r.autoReply !== undefined) routePresence(r.autoReply, us, contact);
    if (r.pushed === undefined) return false;
    const { old, next, ver } = r.pushed;
    if (!(next.subscription === 'none' && next.ask === 'in')) await push(luser, lserver, old, next, ver);
    return true;
  };

  /** `in_subscription/2` on `roster_in_subscription` (seq 50): true delivers the stanza. */
  const inSubscription = async (_acc: boolean, presence: Element): Promise<boolean> => {
    const type = presence.attrs.type;
    if (!isSubscriptionType(type)) return false;
    let to: Jid;
    let from: Jid;
    try {
      to = parseJid(String(presence.attrs.to));
      from = parseJid(String(presence.attrs.from));
    } catch {
      return false;
    }
    const status = type === 'subscribe' ? (presence.getChildText('status') ?? '') : '';
    return processSubscription('in', to.luser, to.lserver, bareOf(from), type, status);
  };

  /** `out_subscription/1`, run from `user_send_packet`: the stanza leaves from the bare JID. */
  const outSubscription = (acc: Element | 'drop', jid: Jid): Element | 'drop' | Promise<Element | 'drop'> => {
    // Synchronous for every other stanza: a message pays no promise here.
    if (acc === 'drop' || acc.name !== 'presence' || !isSubscriptionType(acc.attrs.type)) return acc;
    let to: Jid;
    try {
      to = parseJid(String(acc.attrs.to ?? ''));
    } catch {
      return acc;
    }
    const contact = bareOf(to);
    return processSubscription('out', jid.luser, jid.lserver, contact, acc.attrs.type, '').then(() => {
      acc.attrs.from = usOf(jid.luser, jid.lserver);
      acc.attrs.to = contact;
      return acc;
    });
  };

  /** Pending inbound requests, to a session at its initial presence (`resend_pending_subscriptions/1`). */
  const resendPending = async (jid: Jid, ref: ActorRef, p: Element, initial: boolean): Promise<void> => {
    // `mod_roster:c2s_self_presence/1`: only to a session that can take them (priority ≥ 0).
    if (!initial || Number(p.getChildText('priority') ?? '0') < 0) return;
    const us = usOf(jid.luser, jid.lserver);
    for (const item of (await readAll(us)).values()) {
      if (item.ask !== 'in' && item.ask !== 'both') continue;
      const request = new Element('presence', { type: 'subscribe', from: item.jid, to: us });
      if (item.askMessage !== undefined && item.askMessage !== '') request.c('status').t(item.askMessage);
      sendToConnection(srv(), ref, request);
    }
  };

  const rosterGet = async (acc: readonly RosterItem[], luser: string, lserver: string) => [
    ...acc,
    ...(await readAll(usOf(luser, lserver))).values(),
  ];

  const jidInfo = async (acc: RosterItem | undefined, luser: string, lserver: string, contact: string) =>
    (await readItem(usOf(luser, lserver), contact)) ?? acc;

  const removeUser = async (user: string, host: string): Promise<void> => {
    let us: string;
    try {
      us = usOf(nodeprep(user), nameprep(host));
    } catch {
      return;
    }
    for (const item of (await readAll(us)).values()) unsubscribing(us, item);
    await srv().store.deleteAll(TABLE, us);
    await srv().store.deleteAll(VERSION_TABLE, us);
  };

  // The per-host hooks: one list for start and stop (a hook is deleted with exactly the
  // arguments it was added with, as ejabberd_hooks requires).
  function hostHooks(s: XmppServer, op: 'add' | 'delete', host: string): void {
    s.hooks[op]('roster_in_subscription', host, inSubscription, SEQ);
    s.hooks[op]('user_send_packet', host, outSubscription, SEQ);
    s.hooks[op]('c2s_self_presence', host, resendPending, SEQ);
    s.hooks[op]('roster_get', host, rosterGet, SEQ);
    s.hooks[op]('roster_get_jid_info', host, jidInfo, SEQ);
    s.hooks[op]('remove_user', host, removeUser, SEQ);
  }

  return {
    name: 'mod_roster',
    getRoster: async (luser, lserver) => [...(await readAll(usOf(luser, lserver))).values()],
    getItem: (luser, lserver, contact) => readItem(usOf(luser, lserver), contact),
    start(s) {
      server = s;
      for (const host of s.hosts) {
        s.sm.registerIqHandler(host, NS_ROSTER, handleIq);
        hostHooks(s, 'add', host);
      }
    },
    stop(s) {
      for (const host of s.hosts) {
        s.sm.unregisterIqHandler(host, NS_ROSTER);
        hostHooks(s, 'delete', host);
      }
    },
  };
}
