import type { ActorRef } from '@otp-chat/actor';
import { type Jid, parseJid } from '@otp-chat/jid';
import { IqDecodeError, makeErrorReply, messageType } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import { iqChild, iqResult, usOf } from './internal/moduleKit.ts';
import type { XmppModule } from './XmppModule.ts';
import type { XmppServer } from './XmppServer.ts';
import './hooks.ts';

/** XEP-0280's namespace (version 2). */
export const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_HINTS = 'urn:xmpp:hints';
/** The session info key holding a resource's carbons state (ejabberd's `carboncopy`). */
const INFO_KEY = 'carboncopy';
const SEQ = 70;

/**
 * `mod_carboncopy:is_carbon_copy/1` and `check_and_forward/4`'s filter: chat messages, and normal
 * ones with a body (XEP-0280 §6), that are not carbons already, not `<private/>` and not
 * `<no-copy/>` (XEP-0334).
 */
function eligible(m: Element): boolean {
  if (m.name !== 'message') return false;
  const type = messageType(m);
  if (type !== 'chat' && !(type === 'normal' && m.getChild('body') !== undefined)) return false;
  if (m.getChild('private', NS_CARBONS) !== undefined) return false;
  if (m.getChild('no-copy', NS_HINTS) !== undefined) return false;
  if (m.getChild('received', NS_CARBONS) !== undefined || m.getChild('sent', NS_CARBONS) !== undefined)
    return false;
  return true;
}

/**
 * Message carbons (XEP-0280, ejabberd's `mod_carboncopy`): a resource enables them with
 * `<enable xmlns='urn:xmpp:carbons:2'/>` (kept in its session's info, so every node sees it), and
 * then gets a `<sent/>` copy of each eligible message another resource of its user sends
 * (`user_send_packet`) and a `<received/>` copy of each one another resource receives
 * (`user_receive_packet`), unless it received the message itself: for a message to the bare JID,
 * the resources of the highest priority all get it and no carbon is made from the `sm_copy` ones.
 */
export function modCarboncopy(): XmppModule {
  let server: XmppServer | undefined;
  const srv = (): XmppServer => {
    if (server === undefined) throw new Error('mod_carboncopy is not started');
    return server;
  };

  const handleIq = async (iq: Element): Promise<Element> => {
    const from = parseJid(String(iq.attrs.from));
    const to = parseJid(String(iq.attrs.to));
    if (from.luser !== to.luser || from.lserver !== to.lserver || from.lresource === '') {
      return makeErrorReply(iq, 'forbidden')!;
    }
    const child = iqChild(iq);
    if (child.attrs.xmlns !== NS_CARBONS) throw new IqDecodeError(NS_CARBONS, 'not a carbons element');
    if (iq.attrs.type !== 'set' || (child.name !== 'enable' && child.name !== 'disable')) {
      return makeErrorReply(iq, 'bad-request')!;
    }
    const s = srv();
    const ref: ActorRef | undefined = await s.sm.getSessionRef(from.luser, from.lserver, from.lresource);
    if (ref === undefined) return makeErrorReply(iq, 'item-not-found')!;
    const r =
      child.name === 'enable'
        ? await s.sm.setUserInfo(from.luser, from.lserver, from.lresource, INFO_KEY, NS_CARBONS, ref)
        : await s.sm.delUserInfo(from.luser, from.lserver, from.lresource, INFO_KEY, ref);
    return r === 'ok' ? iqResult(iq) : makeErrorReply(iq, 'internal-server-error')!;
  };

  const wrap = (m: Element, direction: 'sent' | 'received', bare: string, to: string): Element => {
    const copy = new Element('message', { from: bare, to, type: messageType(m) });
    // The forwarded stanza keeps its namespace (XEP-0297 §4): without it, it would inherit
    // `urn:xmpp:forward:0` and a client would not read it as a message.
    const inner = new Element('message', { ...(m.attrs as Record<string, string>), xmlns: 'jabber:client' });
    for (const c of m.children) inner.cnode(c as Element);
    copy.c(direction, { xmlns: NS_CARBONS }).c('forwarded', { xmlns: NS_FORWARD }).cnode(inner);
    return copy;
  };

  /** Sends carbons of `m` to the enabled resources of `owner` that `skip` does not exclude. */
  const forward = async (
    owner: Jid,
    m: Element,
    direction: 'sent' | 'received',
    skip: (resource: string, priority: number | undefined, maxPriority: number) => boolean,
  ): Promise<void> => {
    const s = srv();
    const sessions = await s.sm.getUserInfo(owner.luser, owner.lserver);
    if (sessions.length < 2) return;
    let max = -Infinity;
    for (const { info } of sessions)
      if (info.priority !== undefined && info.priority > max) max = info.priority;
    const bare = usOf(owner.luser, owner.lserver);
    for (const { resource, info } of sessions) {
      if (info.info[INFO_KEY] !== NS_CARBONS || skip(resource, info.priority, max)) continue;
      s.route(wrap(m, direction, bare, `${bare}/${resource}`));
    }
  };

  const sent = (acc: Element | 'drop', j: Jid): Element | 'drop' => {
    if (acc === 'drop' || !eligible(acc)) return acc;
    forward(j, acc, 'sent', (resource) => resource === j.lresource).catch((error: unknown) =>
      srv().logger.warn({ err: error }, 'mod_carboncopy: sent carbons failed'),
    );
    return acc;
  };

  const received = (j: Jid, m: Element, smCopy: boolean): void => {
    if (smCopy || !eligible(m)) return;
    let to: Jid;
    try {
      to = parseJid(String(m.attrs.to));
    } catch {
      return;
    }
    const toBare = to.lresource === '';
    forward(j, m, 'received', (resource, priority, max) =>
      toBare ? resource === j.lresource || priority === max : resource === j.lresource,
    ).catch((error: unknown) => srv().logger.warn({ err: error }, 'mod_carboncopy: received carbons failed'));
  };

  const feature = (acc: readonly string[]) => [...acc, NS_CARBONS];

  // The per-host hooks: one list for start and stop (a hook is deleted with exactly the
  // arguments it was added with, as ejabberd_hooks requires).
  function hostHooks(s: XmppServer, op: 'add' | 'delete', host: string): void {
    s.hooks[op]('user_send_packet', host, sent, SEQ);
    s.hooks[op]('user_receive_packet', host, received, SEQ);
    s.hooks[op]('disco_local_features', host, feature, SEQ);
  }

  return {
    name: 'mod_carboncopy',
    start(s) {
      server = s;
      for (const host of s.hosts) {
        s.sm.registerIqHandler(host, NS_CARBONS, handleIq);
        hostHooks(s, 'add', host);
      }
    },
    stop(s) {
      for (const host of s.hosts) {
        s.sm.unregisterIqHandler(host, NS_CARBONS);
        hostHooks(s, 'delete', host);
      }
    },
  };
}
