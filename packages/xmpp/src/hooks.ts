import type { ActorRef } from '@otp-chat/actor';
import type { Jid } from '@otp-chat/jid';
import type { Element } from '@xmpp/xml';

declare module '@otp-chat/event-bus' {
  interface HookMap {
    /** A bind refused by the access rule (spec §4.1): `[JID]`. Host: the stream's server. */
    forbidden_session_hook: { args: [jid: Jid] };
    /**
     * Available self-presence (ejabberd's `c2s_self_presence`): `initial` is true for the first
     * one of the session (mod_offline then resends stored messages to `ref`). Host: the server.
     */
    c2s_self_presence: { args: [jid: Jid, ref: ActorRef, presence: Element, initial: boolean] };
  }
}
