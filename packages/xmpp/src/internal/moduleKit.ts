import type { ActorRef } from '@otp-chat/actor';
import type { Jid } from '@otp-chat/jid';
import { Element } from '@xmpp/xml';
import type { XmppServer } from '../XmppServer.ts';

/** The store key of a user: `luser@lserver`, prepared. */
export function usOf(luser: string, lserver: string): string {
  return `${luser}@${lserver}`;
}

/** The prepared bare JID of `j` as text. */
export function bareOf(j: Jid): string {
  return j.luser === '' ? j.lserver : `${j.luser}@${j.lserver}`;
}

/** Hands `stanza` to one connection, as the session manager does (`{route, Packet}` to a c2s). */
export function sendToConnection(server: XmppServer, ref: ActorRef, stanza: Element): void {
  server.system.send(ref, { type: 'route', stanza, smCopy: false });
}

/** An IQ result for `iq` (from and to swapped), with `child` when given. */
export function iqResult(iq: Element, child?: Element): Element {
  const attrs: Record<string, string> = { type: 'result' };
  if (iq.attrs.id !== undefined) attrs.id = iq.attrs.id;
  if (iq.attrs.to !== undefined) attrs.from = iq.attrs.to;
  if (iq.attrs.from !== undefined) attrs.to = iq.attrs.from;
  const r = new Element('iq', attrs);
  if (child !== undefined) r.cnode(child);
  return r;
}

/** The one child element of an IQ get/set (the session manager's table checked there is one). */
export function iqChild(iq: Element): Element {
  return iq.getChildElements()[0]!;
}

/**
 * Runs `f` for one key after every earlier `f` of that key has settled: the read-modify-write of a
 * user's roster or blocklist is one at a time on this node (ejabberd runs them in a transaction).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, f: () => Promise<T> | T): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(f, f);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
