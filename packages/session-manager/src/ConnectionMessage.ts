import type { Element } from '@xmpp/xml';

/**
 * `{route, Packet}`: a stanza for the connection to write to its client (`ejabberd_sm:do_route/1`). `smCopy` is
 * ejabberd's `sm_copy` meta: true on the non-primary copies of a bare-JID message delivered to
 * several resources at the same priority (`ejabberd_sm:route_message/1`), so that archiving and carbons act once.
 * Treat `stanza` as immutable: one element may be delivered to several connections.
 */
export interface RouteMessage {
  readonly type: 'route';
  readonly stanza: Element;
  readonly smCopy: boolean;
}

/**
 * `replaced`: a newer session took this full JID, or `maxUserSessions` kicked this (oldest)
 * session (`ejabberd_sm:check_existing_resources/4`, `check_max_sessions/2`). The connection sends `<conflict/>` "Replaced by new connection" and
 * closes; closing runs `closeSession`.
 */
export interface ReplacedMessage {
  readonly type: 'replaced';
}

/** `kick`: an administrator kicked the session (`ejabberd_sm:kick_user/3`). `<policy-violation/>` "has been kicked". */
export interface KickMessage {
  readonly type: 'kick';
}

/** `{exit, Reason}`: the user was removed or `kick_session` ran (`ejabberd_sm:route/2`). `<conflict/>` with `reason`. */
export interface SessionExitMessage {
  readonly type: 'exit';
  readonly reason: string;
}

/**
 * The session manager is stopping (`ejabberd_sm:terminate/2`): `<system-shutdown/>` on a single node,
 * `<reset/>` in a cluster (so that clients reconnect elsewhere).
 */
export interface ShutdownMessage {
  readonly type: 'system-shutdown' | 'reset';
}

/**
 * `reregister`: the session store lost this node's rows (a Redis restarted without persistence);
 * a connection with a session writes its row again with `SessionManager#reregisterSession`, same
 * sid, current priority and info. Sessions are facts of the node that holds the connection. Not a
 * close: no stream error.
 */
export interface ReregisterMessage {
  readonly type: 'reregister';
}

/** Every message the session manager itself sends to a connection actor (`ejabberd_sm:c2s_handle_info/2`). */
export type ConnectionMessage =
  | RouteMessage
  | ReplacedMessage
  | KickMessage
  | SessionExitMessage
  | ShutdownMessage
  | ReregisterMessage;

/** The one `replaced` message (frozen, shared). */
export const REPLACED: ReplacedMessage = Object.freeze({ type: 'replaced' });
/** The one `kick` message (frozen, shared). */
export const KICK: KickMessage = Object.freeze({ type: 'kick' });
/** The one `system-shutdown` message (frozen, shared). */
export const SYSTEM_SHUTDOWN: ShutdownMessage = Object.freeze({ type: 'system-shutdown' });
/** The one `reset` message (frozen, shared): the session manager stops while other nodes are up. */
export const RESET: ShutdownMessage = Object.freeze({ type: 'reset' });
/** The one `reregister` message (frozen, shared). */
export const REREGISTER: ReregisterMessage = Object.freeze({ type: 'reregister' });

const TYPES = new Set(['route', 'replaced', 'kick', 'exit', 'system-shutdown', 'reset', 'reregister']);

/** True for a {@link ConnectionMessage}. */
export function isConnectionMessage(message: unknown): message is ConnectionMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    TYPES.has((message as { type?: unknown }).type as string)
  );
}

/** A stream error the connection must send before closing. */
export interface StreamErrorSpec {
  /** The RFC 6120 §4.9.3 condition element name. */
  readonly condition: 'conflict' | 'policy-violation' | 'system-shutdown' | 'reset';
  readonly text?: string;
  /** True for `kick`: run the `sm_kick_user` hook (`ejabberd_sm:c2s_handle_info/2`). */
  readonly runKickHook?: true;
}

/**
 * What a connection does with a control message, ejabberd_sm's `c2s_handle_info/2`:
 * the stream error to send, after which it closes. `undefined` for `route` and `reregister`.
 */
export function streamErrorFor(message: ConnectionMessage): StreamErrorSpec | undefined {
  switch (message.type) {
    case 'replaced':
      return { condition: 'conflict', text: 'Replaced by new connection' };
    case 'kick':
      return { condition: 'policy-violation', text: 'has been kicked', runKickHook: true };
    case 'exit':
      return { condition: 'conflict', text: message.reason };
    case 'system-shutdown':
      return { condition: 'system-shutdown' };
    case 'reset':
      return { condition: 'reset' };
    default:
      return undefined;
  }
}
