import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@otp-chat/actor';
import type { Hooks } from '@otp-chat/event-bus';
import type { Jid } from '@otp-chat/jid';
import type { SessionManager } from '@otp-chat/session-manager';
import type { Element } from '@xmpp/xml';
import type { AuthThrottle } from '../AuthThrottle.ts';
import type { C2SOptions } from '../C2SOptions.ts';
import type { StartTlsPolicy } from '../c2sMachine.ts';
import type { TlsCredentials } from '../TlsCredentials.ts';
import type { UserStore } from '../UserStore.ts';

/** What one listener's connections run over (ejabberd's listener options `starttls`, `tls`). */
export interface C2SListenerInfo {
  /** STARTTLS offered, required, or not (always `'none'` when the stream starts encrypted). */
  readonly starttls: StartTlsPolicy;
  /** The `conn` of the sessions it opens (`ejabberd_c2s:get_conn_type/1`) before any STARTTLS. */
  readonly conn: 'c2s' | 'c2s_tls' | 'websocket';
  /** The server's default certificate (channel binding data is derived from the one a connection got). */
  readonly tls: TlsCredentials | undefined;
  /**
   * TLS on an accepted socket, server side, with the certificate of the name the client asks
   * (SNI), else of `host` (STARTTLS: the stream's domain), else the default one.
   */
  readonly startTls: ((socket: Socket, host?: string) => TLSSocket) | undefined;
}

/** What a connection actor needs from its server (one per listener). */
export interface C2SHost {
  readonly listener: C2SListenerInfo;
  readonly sm: SessionManager;
  readonly users: UserStore;
  readonly hooks: Hooks;
  readonly logger: Logger;
  /** Prepared virtual hosts, now (a new array when a host is added or removed at run time). */
  readonly hosts: readonly string[];
  readonly options: C2SOptions;
  /** `ejabberd_router:route/1` for a stanza whose `to` is already parsed. */
  route(stanza: Element, to: Jid): void;
  /**
   * Routes again a stanza a closing connection still held (`bounce_message_queue`): after its
   * session is gone, so it reaches another resource, offline storage or an error to its sender.
   * A stanza re-routed too often is answered with an error instead.
   */
  reroute(stanza: Element): void;
  /** Failed-authentication accounting shared by every connection of the server. */
  readonly throttle: AuthThrottle;
  /** SCRAM salt and iteration count announced for an unknown user of `lserver`. */
  scramDecoy(username: string, lserver: string): { readonly salt: Buffer; readonly iterations: number };
}
