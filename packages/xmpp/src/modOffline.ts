import { type ActorRef, andThen, type MaybePromise } from '@otp-chat/actor';
import { type Jid, nameprep, nodeprep, parseJid } from '@otp-chat/jid';
import type { SmPacketAcc } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';
import { elementFromJson, elementToJson } from './internal/elementJson.ts';
import { sendToConnection, usOf } from './internal/moduleKit.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

/** Options of {@link modOffline}. */
export interface ModOfflineOptions {
  /** Messages kept per user; more are bounced. @default DEFAULTS.maxOfflineMessages */
  readonly maxMessages?: number;
  /** Wall clock for the XEP-0203 delay stamp. @default Date.now */
  readonly now?: () => number;
}

/** What the module stores, for tests and admin tools (read from the server's `ModuleStore`). */
export interface OfflineStore {
  /** Stored messages of `luser@lserver`, oldest first. */
  peek(luser: string, lserver: string): MaybePromise<Element[]>;
  /** Number of messages stored for `luser@lserver`. */
  count(luser: string, lserver: string): MaybePromise<number>;
}

/** XEP-0160's disco feature (`msgoffline`). */
export const NS_MSGOFFLINE = 'msgoffline';
const TABLE = 'offline';
/** ejabberd's `mod_offline` store_packet sequence. */
const STORE_SEQ = 50;

/**
 * Offline messages (XEP-0160, ejabberd's `mod_offline`): on `offline_message_hook` (seq 50) it
 * keeps `chat` and `normal` messages that have a body, each stamped with a XEP-0203 `<delay/>`, and
 * answers `offlined`, so ejabberd_sm's bounce (seq 100) does not fire; on the first available
 * presence of a session (`c2s_self_presence`, `initial`) it sends them to that connection, oldest
 * first, and removes them: messages are delivered after initial presence, not at bind, as
 * `ejabberd_c2s` does. They are kept in the server's `ModuleStore` (memory, Redis or PostgreSQL:
 * a restart of the server keeps them). Past `maxMessages` a message is bounced; `remove_user`
 * drops the user's messages; the server lists `msgoffline` in its disco features.
 */
export function modOffline(options: ModOfflineOptions = {}): XmppModule & { readonly store: OfflineStore } {
  const max = options.maxMessages ?? DEFAULTS.maxOfflineMessages;
  const now = options.now ?? Date.now;
  let server: XmppServer | undefined;
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_offline is not started');
    return server;
  };

  const store = (acc: SmPacketAcc): MaybePromise<SmPacketAcc> => {
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
    const copy = new Element('message', { ...m.attrs });
    for (const child of m.children) copy.cnode(child as Element);
    copy
      .c('delay', { xmlns: 'urn:xmpp:delay', from: to.lserver, stamp: new Date(now()).toISOString() })
      .t('Offline storage');
    // Full: ejabberd_sm bounces it (the `bounce` accumulator goes on to seq 100).
    return andThen(
      srv().store.append(TABLE, usOf(to.luser, to.lserver), elementToJson(copy), max),
      (stored): SmPacketAcc => {
        if (!stored) return acc;
        recheck(to).catch((error: unknown) =>
          srv().logger.warn({ err: error }, 'mod_offline: could not check for a session that came meanwhile'),
        );
        return { tag: 'offlined', packet: m };
      },
    );
  };

  /**
   * Storing is not atomic with routing: the user's first presence may have taken the stored
   * messages (and a store that answers asynchronously, Redis or PostgreSQL, makes that window
   * real) before this one was written. When the user has an available resource once it is
   * written, the stored messages are taken and routed again; the take is atomic, so each message
   * goes out once.
   */
  const recheck = async (to: Jid): Promise<void> => {
    const s = srv();
    const present = await s.sm.getUserPresentResources(to.luser, to.lserver);
    if (!present.some((r) => r.priority >= 0)) return;
    for (const stanza of decode(await s.store.takeAll(TABLE, usOf(to.luser, to.lserver)))) s.route(stanza);
  };

  const decode = (texts: readonly string[]): Element[] => {
    const out: Element[] = [];
    for (const t of texts) {
      try {
        out.push(elementFromJson(t));
      } catch (error) {
        srv().logger.warn({ err: error }, 'mod_offline: a stored message cannot be read; dropped');
      }
    }
    return out;
  };

  const resend = (jid: Jid, ref: ActorRef, _presence: Element, initial: boolean): MaybePromise<void> => {
    if (!initial) return;
    return andThen(srv().store.takeAll(TABLE, usOf(jid.luser, jid.lserver)), (texts) => {
      for (const stanza of decode(texts)) sendToConnection(srv(), ref, stanza);
    });
  };

  const removeUser = (user: string, host: string): MaybePromise<void> => {
    let us: string;
    try {
      us = usOf(nodeprep(user), nameprep(host));
    } catch {
      return; // not a valid JID: nothing stored under it
    }
    return srv().store.deleteAll(TABLE, us);
  };

  const feature = (acc: readonly string[]) => [...acc, NS_MSGOFFLINE];

  // The per-host hooks: one list for start and stop (a hook is deleted with exactly the
  // arguments it was added with, as ejabberd_hooks requires).
  function hostHooks(s: XmppServer, op: 'add' | 'delete', host: string): void {
    s.hooks[op]('offline_message_hook', host, store, STORE_SEQ);
    s.hooks[op]('c2s_self_presence', host, resend, STORE_SEQ);
    s.hooks[op]('remove_user', host, removeUser, STORE_SEQ);
    s.hooks[op]('disco_local_features', host, feature, STORE_SEQ);
  }

  return {
    name: 'mod_offline',
    store: {
      peek: (luser, lserver) => andThen(srv().store.readList(TABLE, usOf(luser, lserver)), decode),
      count: (luser, lserver) => srv().store.count(TABLE, usOf(luser, lserver)),
    },
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
