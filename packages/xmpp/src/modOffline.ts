import type { ActorRef } from '@otp-chat/actor';
import { type Jid, nameprep, nodeprep, parseJid } from '@otp-chat/jid';
import type { SmPacketAcc } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import type { XmppModule } from './XmppModule.ts';
import './hooks.ts';

/** Options of {@link modOffline}. */
export interface ModOfflineOptions {
  /** Messages kept per user; more are bounced. @default DEFAULTS.maxOfflineMessages */
  readonly maxMessages?: number;
  /** Wall clock for the XEP-0203 delay stamp. @default Date.now */
  readonly now?: () => number;
}

/** The in-memory store the module keeps, exposed for tests and admin tools. */
export interface OfflineStore {
  /** Stored messages of `luser@lserver`, oldest first. */
  peek(luser: string, lserver: string): readonly Element[];
  /** Number of messages stored for `luser@lserver`. */
  count(luser: string, lserver: string): number;
  /** Number of users with stored messages. */
  readonly users: number;
  /** Number of messages stored, all users. */
  readonly messages: number;
}

/** ejabberd's `mod_offline` store_packet sequence. */
const STORE_SEQ = 50;

/**
 * An offline message store (ejabberd's `mod_offline`, memory only): on `offline_message_hook`
 * (seq 50) it keeps `chat` and `normal` messages that have a body and answers `offlined`, so
 * ejabberd_sm's bounce (seq 100) does not fire; on the first available presence of a session
 * (`c2s_self_presence`, `initial`) it sends the stored messages to that connection, each with a
 * XEP-0203 `<delay/>`. Messages are therefore delivered after initial presence, not at bind
 * (`ejabberd_c2s`, which resends offline messages on initial presence). `remove_user` drops the user's messages.
 */
export function modOffline(options: ModOfflineOptions = {}): XmppModule & { readonly store: OfflineStore } {
  const max = options.maxMessages ?? DEFAULTS.maxOfflineMessages;
  const now = options.now ?? Date.now;
  const byUser = new Map<string, Element[]>();
  const key = (luser: string, lserver: string) => `${luser}@${lserver}`;

  const store = (acc: SmPacketAcc): SmPacketAcc => {
    if (acc.tag !== 'bounce') return acc;
    const m = acc.packet;
    const type = m.attrs.type ?? 'normal';
    if (m.name !== 'message' || (type !== 'chat' && type !== 'normal')) return acc;
    if (m.getChild('body') === undefined) return acc;
    // Keyed by the prepared JID (nodeprep, nameprep), as routing is: every spelling of a user
    // (full-width letters, a soft hyphen, upper case) reaches one store, one cap.
    let to: Jid;
    try {
      to = parseJid(String(m.attrs.to));
    } catch {
      return acc;
    }
    const k = key(to.luser, to.lserver);
    const list = byUser.get(k) ?? [];
    if (list.length >= max) return acc; // full: ejabberd_sm bounces it
    const copy = new Element('message', { ...m.attrs });
    for (const child of m.children) copy.cnode(child as Element);
    copy
      .c('delay', {
        xmlns: 'urn:xmpp:delay',
        from: to.lserver,
        stamp: new Date(now()).toISOString(),
      })
      .t('Offline storage');
    list.push(copy);
    byUser.set(k, list);
    return { tag: 'offlined', packet: m };
  };

  const resend = (jid: Jid, ref: ActorRef, _presence: Element, initial: boolean): void => {
    if (!initial) return;
    const k = key(jid.luser, jid.lserver);
    const list = byUser.get(k);
    if (list === undefined) return;
    byUser.delete(k);
    for (const stanza of list) serverRef?.system.send(ref, { type: 'route', stanza, smCopy: false });
  };

  const removeUser = (user: string, server: string): void => {
    try {
      byUser.delete(key(nodeprep(user), nameprep(server)));
    } catch {
      // not a valid JID: nothing stored under it
    }
  };

  let serverRef: { system: { send(ref: ActorRef, msg: unknown): void } } | undefined;
  return {
    name: 'mod_offline',
    store: {
      peek: (luser, lserver) => byUser.get(key(luser, lserver)) ?? [],
      count: (luser, lserver) => byUser.get(key(luser, lserver))?.length ?? 0,
      get messages() {
        let n = 0;
        for (const list of byUser.values()) n += list.length;
        return n;
      },
      get users() {
        return byUser.size;
      },
    },
    start(server) {
      serverRef = server;
      for (const host of server.hosts) {
        server.hooks.add('offline_message_hook', host, store, STORE_SEQ);
        server.hooks.add('c2s_self_presence', host, resend, STORE_SEQ);
        server.hooks.add('remove_user', host, removeUser, STORE_SEQ);
      }
    },
    stop(server) {
      for (const host of server.hosts) {
        server.hooks.delete('offline_message_hook', host, store, STORE_SEQ);
        server.hooks.delete('c2s_self_presence', host, resend, STORE_SEQ);
        server.hooks.delete('remove_user', host, removeUser, STORE_SEQ);
      }
    },
  };
}
