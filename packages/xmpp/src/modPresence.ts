import type { ActorRef } from '@otp-chat/actor';
import { type Jid, jid as makeJid, parseJid } from '@otp-chat/jid';
import { callGetPresence } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import type { RosterItem } from './hooks.ts';
import { bareOf, usOf } from './internal/moduleKit.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

const SEQ = 60;

/** A copy of `p` from `from` to `to`, children shared (they are not changed afterwards). */
function presenceCopy(p: Element, from: string, to: string, type?: string): Element {
  const attrs: Record<string, string> = { ...(p.attrs as Record<string, string>), from, to };
  if (type !== undefined) attrs.type = type;
  const copy = new Element('presence', attrs);
  for (const c of p.children) copy.cnode(c as Element);
  return copy;
}

const isFrom = (i: RosterItem) => i.subscription === 'from' || i.subscription === 'both';
const isTo = (i: RosterItem) => i.subscription === 'to' || i.subscription === 'both';

/**
 * Presence (RFC 6121 §4), the part ejabberd's `ejabberd_c2s` does with `mod_roster`'s lists:
 *
 * - a session's available presence goes to every contact with a subscription `from` or `both`
 *   (`broadcast_presence_available/3`); the first one of the session also probes the contacts it is
 *   subscribed `to` and the user's own bare JID (RFC 6121 §4.2.2);
 * - a probe (RFC 6121 §4.3) to a user is answered by the server, for each available resource
 *   (another resource of the same user, or a contact the user has granted a subscription), with
 *   that resource's last presence: kept here for this node's sessions, asked of the connection
 *   (`ejabberd_c2s:get_presence/1`) for another node's. Probes never reach clients;
 * - when a session goes unavailable, by its client's `<presence type='unavailable'/>`, its stream
 *   closing, or its node dying (the session manager's `unset_presence_hook` in each case), its
 *   subscribers and those it sent directed presence to get `unavailable`
 *   (`broadcast_presence_unavailable/3`);
 * - directed presence (RFC 6121 §4.6) to a JID without a subscription `from` is remembered
 *   (`pres_a`, bounded by `DEFAULTS.maxDirectedPresences`) for that unavailable.
 *
 * Every broadcast runs `privacy_check_packet` (`out`), so a blocked contact gets nothing. Negative
 * priorities are broadcast like others; the session manager keeps them out of bare-JID routing.
 */
export function modPresence(): XmppModule {
  let server: XmppServer | undefined;
  const last = new Map<string, Element>();
  const directed = new Map<string, Set<string>>();
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_presence is not started');
    return server;
  };

  const roster = async (luser: string, lserver: string): Promise<readonly RosterItem[]> =>
    srv().hooks.runFold('roster_get', lserver, [], luser, lserver);

  const item = async (luser: string, lserver: string, contact: string): Promise<RosterItem | undefined> =>
    srv().hooks.runFold('roster_get_jid_info', lserver, undefined, luser, lserver, contact);

  const allowedOut = async (lserver: string, to: string, p: Element): Promise<boolean> => {
    const s = srv();
    if (!s.hooks.has('privacy_check_packet', lserver)) return true;
    try {
      return (
        (await s.hooks.runFold('privacy_check_packet', lserver, 'allow', parseJid(to), p, 'out')) === 'allow'
      );
    } catch {
      return false;
    }
  };

  const routeChecked = async (lserver: string, p: Element): Promise<void> => {
    if (await allowedOut(lserver, String(p.attrs.to), p)) srv().route(p);
  };

  const selfPresence = async (j: Jid, _ref: ActorRef, presence: Element, initial: boolean): Promise<void> => {
    const full = j.toString();
    last.set(full, presence);
    const items = await roster(j.luser, j.lserver);
    for (const item of items) {
      if (isFrom(item)) await routeChecked(j.lserver, presenceCopy(presence, full, item.jid));
    }
    if (!initial) return;
    const probe = (to: string) => new Element('presence', { type: 'probe', from: full, to });
    await routeChecked(j.lserver, probe(bareOf(j)));
    for (const item of items) if (isTo(item)) await routeChecked(j.lserver, probe(item.jid));
  };

  const unsetPresence = async (
    user: string,
    host: string,
    resource: string,
    status: string,
  ): Promise<void> => {
    let j: Jid;
    try {
      j = makeJid(user, host, resource);
    } catch {
      return;
    }
    const full = j.toString();
    last.delete(full);
    const targets = new Set<string>(directed.get(full) ?? []);
    directed.delete(full);
    for (const item of await roster(j.luser, j.lserver)) if (isFrom(item)) targets.add(item.jid);
    for (const to of targets) {
      const p = new Element('presence', { type: 'unavailable', from: full, to });
      if (status !== '' && status !== 'node_down') p.c('status').t(status);
      await routeChecked(j.lserver, p);
    }
  };

  const forget = (_sid: unknown, j: Jid): void => {
    last.delete(j.toString());
  };

  /** `route_probe_reply/2` for every available resource of the probed user. */
  const answerProbe = async (probe: Element, to: Jid): Promise<void> => {
    const s = srv();
    const from = parseJid(String(probe.attrs.from));
    const sameUser = from.luser === to.luser && from.lserver === to.lserver;
    if (!sameUser) {
      const i = await item(to.luser, to.lserver, bareOf(from));
      if (i === undefined || !isFrom(i)) return;
    }
    const bare = usOf(to.luser, to.lserver);
    for (const { resource, info } of await s.sm.getUserInfo(to.luser, to.lserver)) {
      if (info.priority === undefined) continue;
      if (to.lresource !== '' && resource !== to.lresource) continue;
      if (sameUser && resource === from.lresource) continue;
      const full = `${bare}/${resource}`;
      let p = info.ref.node === s.system.node ? last.get(full) : undefined;
      if (p === undefined) {
        try {
          p = await callGetPresence(s.system, info.ref);
        } catch {
          continue;
        }
      }
      if (p.attrs.type === 'unavailable') continue;
      await routeChecked(to.lserver, presenceCopy(p, full, String(probe.attrs.from)));
    }
  };

  const receive = (acc: Element | 'drop'): Element | 'drop' => {
    if (acc === 'drop' || acc.name !== 'presence' || acc.attrs.type !== 'probe') return acc;
    let to: Jid;
    try {
      to = parseJid(String(acc.attrs.to));
    } catch {
      return 'drop';
    }
    answerProbe(acc, to).catch((error: unknown) =>
      srv().logger.warn({ err: error, to: acc.attrs.to }, 'mod_presence: probe not answered'),
    );
    return 'drop';
  };

  /** `process_presence_out/2`: directed presence to a JID that is not a subscriber is remembered. */
  const send = (acc: Element | 'drop', j: Jid): Element | 'drop' | Promise<Element | 'drop'> => {
    // Synchronous for every other stanza: a message pays no promise here.
    if (acc === 'drop' || acc.name !== 'presence') return acc;
    const type = acc.attrs.type;
    if (type !== undefined && type !== 'available' && type !== 'unavailable') return acc;
    let to: Jid;
    try {
      to = parseJid(String(acc.attrs.to));
    } catch {
      return acc;
    }
    if (to.luser === j.luser && to.lserver === j.lserver) return acc;
    return rememberDirected(acc, j, to, type);
  };

  const rememberDirected = async (
    acc: Element,
    j: Jid,
    to: Jid,
    type: string | undefined,
  ): Promise<Element> => {
    const i = await item(j.luser, j.lserver, bareOf(to));
    if (i !== undefined && isFrom(i)) return acc;
    const full = j.toString();
    const set = directed.get(full) ?? new Set<string>();
    const target = to.toString();
    if (type === 'unavailable') set.delete(target);
    else if (set.size < DEFAULTS.maxDirectedPresences) set.add(target);
    if (set.size === 0) directed.delete(full);
    else directed.set(full, set);
    return acc;
  };

  // The per-host hooks: one list for start and stop (a hook is deleted with exactly the
  // arguments it was added with, as ejabberd_hooks requires).
  function hostHooks(s: XmppServer, op: 'add' | 'delete', host: string): void {
    s.hooks[op]('c2s_self_presence', host, selfPresence, SEQ);
    s.hooks[op]('unset_presence_hook', host, unsetPresence, SEQ);
    s.hooks[op]('sm_remove_connection_hook', host, forget, SEQ);
    s.hooks[op]('sm_receive_packet', host, receive, SEQ);
    s.hooks[op]('user_send_packet', host, send, SEQ);
  }

  return {
    name: 'mod_presence',
    start(s) {
      server = s;
      for (const host of s.hosts) {
        hostHooks(s, 'add', host);
      }
    },
    stop(s) {
      for (const host of s.hosts) {
        hostHooks(s, 'delete', host);
      }
    },
  };
}
