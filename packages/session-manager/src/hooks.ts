import type { Jid } from '@otp-chat/jid';
import type { Element } from '@xmpp/xml';
import type { SessionInfo } from './Session.ts';
import type { Sid } from './Sid.ts';

/**
 * The accumulator of the `bounce_sm_packet` and `offline_message_hook` folds, ejabberd's
 * `{bounce | pass | offlined | …, Packet}` (`ejabberd_sm:route_message/1`, `bounce_sm_packet/1`).
 */
export interface SmPacketAcc {
  readonly tag: 'bounce' | 'pass' | 'offlined' | (string & {});
  readonly packet: Element;
}

declare module '@otp-chat/event-bus' {
  interface HookMap {
    /** `route/1`: a (possibly modified) stanza, or `'drop'`. Host: `To.lserver`. */
    sm_receive_packet: { acc: Element | 'drop'; args: [] };
    /** `openSession` (`open_session/6`). Host: `JID.lserver`. */
    sm_register_connection_hook: { args: [sid: Sid, jid: Jid, info: SessionInfo] };
    /** `closeSession`, even when no row was found (`info` then `{}`). Host: `JID.lserver`. */
    sm_remove_connection_hook: { args: [sid: Sid, jid: Jid, info: SessionInfo] };
    /** `setPresence`, with the raw user, server and resource. Host: `LServer`. */
    set_presence_hook: { args: [user: string, server: string, resource: string, presence: Element] };
    /** `unsetPresence` and `closeSessionUnsetPresence`. Host: `LServer`. */
    unset_presence_hook: { args: [user: string, server: string, resource: string, status: string] };
    /** Subscription presences (`do_route/1`): from `false`; true delivers. Host: `To.lserver`. */
    roster_in_subscription: { acc: boolean; args: [presence: Element] };
    /** Privacy lists and blocking: `'allow'` or `'deny'`. Host: **`To.server`** (raw, as ejabberd_sm's `is_privacy_allow/1`). */
    privacy_check_packet: {
      acc: 'allow' | 'deny';
      args: [to: Jid, packet: Element, direction: 'in' | 'out'];
    };
    /** Undeliverable stanzas: from `{bounce | pass, packet}`. Host: `To.lserver`. */
    bounce_sm_packet: { acc: SmPacketAcc; args: [] };
    /** A message nobody can take (`route_message/1`): from `{bounce, message}`. Host: `To.lserver`. */
    offline_message_hook: { acc: SmPacketAcc; args: [] };
    /** Run by a connection on `kick` (`c2s_handle_info/2`). Host: `JID.lserver`. */
    sm_kick_user: { args: [luser: string, lserver: string] };
    /** An account was removed: ejabberd_sm disconnects its sessions (seq 100). */
    remove_user: { args: [user: string, server: string] };
    /**
     * A virtual host was added at run time (`ejabberd_config:reload/0` runs it on the `'global'`
     * list for each new host): the session manager serves it (seq 50), the XMPP server accepts
     * and routes it and starts its modules there.
     */
    host_up: { args: [host: string] };
    /**
     * A virtual host was removed at run time (global): the session manager tells its local sessions
     * `system-shutdown` (`reset` when other nodes are up) and stops serving it (seq 60).
     */
    host_down: { args: [host: string] };
    /** The configuration was reloaded, after `host_up` and `host_down` (global, no arguments). */
    config_reloaded: { args: [] };
  }
}
