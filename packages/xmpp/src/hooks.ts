import type { ActorRef } from '@otp-chat/actor';
import type { Jid } from '@otp-chat/jid';
import type { Element } from '@xmpp/xml';

/** One SASL attempt's outcome, as the `c2s_auth_result` hook reports it (for metrics and audit). */
export interface C2SAuthResult {
  readonly result: 'success' | 'failure';
  /** The prepared user name the client gave (`''` when it could not be read or prepared). */
  readonly user: string;
  /** The stream's host. */
  readonly server: string;
  readonly ip: string;
  readonly mechanism: string;
  /** The SASL failure condition (`not-authorized`, `aborted`, …). */
  readonly reason?: string;
  /** Failures counted so far from this address and for this account (see `AuthThrottle`). */
  readonly ipFailures?: number;
  readonly accountFailures?: number;
  /** Set when this failure locked the address or the account out. */
  readonly lockedOut?: 'ip' | 'account';
  /** True when the attempt was refused because of a lockout, without checking the password. */
  readonly locked?: boolean;
  /** How long the failure answer was delayed. */
  readonly delayMs?: number;
}

declare module '@otp-chat/event-bus' {
  interface HookMap {
    /** A bind refused by the access rule (`ejabberd_c2s:bind/2`): `[JID]`. Host: the stream's server. */
    forbidden_session_hook: { args: [jid: Jid] };
    /**
     * Available self-presence (ejabberd's `c2s_self_presence`): `initial` is true for the first
     * one of the session (mod_offline then resends stored messages to `ref`). Host: the server.
     */
    c2s_self_presence: { args: [jid: Jid, ref: ActorRef, presence: Element, initial: boolean] };
    /**
     * Every SASL attempt's outcome (ejabberd's `c2s_auth_result`, which `mod_fail2ban` counts):
     * a metric hook. Host: the stream's server.
     */
    c2s_auth_result: { args: [result: C2SAuthResult] };
  }
}

/** One roster item as modules share it (`roster_get`). `jid` is the contact's prepared bare JID. */
export interface RosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly groups: readonly string[];
  readonly subscription: 'none' | 'to' | 'from' | 'both';
  readonly ask: 'none' | 'in' | 'out' | 'both';
  /** The status text of a pending inbound request (`askmessage`), resent at login. */
  readonly askMessage?: string;
}

declare module '@otp-chat/event-bus' {
  interface HookMap {
    /**
     * A stanza the client sent, before it is routed (`ejabberd_c2s`'s `user_send_packet`): a
     * module may change it or answer `'drop'` (it then answered the client itself if it had to).
     * Host: the sender's server.
     */
    user_send_packet: { acc: Element | 'drop'; args: [jid: Jid, ref: ActorRef] };
    /**
     * A stanza handed to a session's client (`user_receive_packet`, notification only: the stanza
     * is already on its way). `smCopy` marks the copies of a message to a bare JID beyond the first.
     * Host: the receiving user's server.
     */
    user_receive_packet: { args: [jid: Jid, stanza: Element, smCopy: boolean] };
    /**
     * One item of the user's roster (`roster_get_jid_info`): the contact's bare JID in, the item
     * (or `undefined`) out. Host: `lserver`.
     */
    roster_get_jid_info: {
      acc: RosterItem | undefined;
      args: [luser: string, lserver: string, contact: string];
    };
    /** The user's roster (`roster_get`), filled by `modRoster`. Host: `lserver`. */
    roster_get: { acc: readonly RosterItem[]; args: [luser: string, lserver: string] };
    /** Features of the server itself beyond its IQ handlers (`disco_local_features`). Host: the server. */
    disco_local_features: { acc: readonly string[]; args: [] };
    /** Features of a user's bare JID beyond the session manager's IQ handlers (`disco_sm_features`). */
    disco_sm_features: { acc: readonly string[]; args: [] };
  }
}
