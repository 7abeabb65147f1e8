import type { ActorRef, ActorSystem } from '@otp-chat/actor';
import type { Element } from '@xmpp/xml';
import { DEFAULTS } from './DEFAULTS.ts';

/**
 * `ejabberd_c2s:get_presence/1`: the connection answers its session's last available presence
 * (`pres_last`), or, when it has none, `<presence type='unavailable'/>` from its full JID to its
 * bare JID (ejabberd's `handle_call(get_presence, …)`).
 */
export interface GetPresenceCall {
  readonly type: 'get_presence';
}

/**
 * `ejabberd_c2s:set_presence/2`: the connection answers `'ok'`, then handles `presence` as if its
 * client had sent it as its own presence (`process_self_presence/2`): priority, broadcast, hooks.
 */
export interface SetPresenceCall {
  readonly type: 'set_presence';
  readonly presence: Element;
}

/** Every call the session manager's commands make to a connection actor (`ejabberd_c2s`'s `handle_call/3`). */
export type ConnectionCall = GetPresenceCall | SetPresenceCall;

const CALLS = new Set(['get_presence', 'set_presence']);

/** True for a {@link ConnectionCall}. */
export function isConnectionCall(request: unknown): request is ConnectionCall {
  return (
    typeof request === 'object' &&
    request !== null &&
    CALLS.has((request as { type?: unknown }).type as string)
  );
}

/** The one `get_presence` call (frozen, shared). */
export const GET_PRESENCE: GetPresenceCall = Object.freeze({ type: 'get_presence' });

/**
 * `ejabberd_c2s:get_presence/1` (a call of `DEFAULTS.connectionCallTimeoutMs`, 1 s as ejabberd's):
 * the presence of the session whose connection is `ref`, on this node or another. Rejects when the
 * connection does not answer in time, is gone, or answers something else than a presence.
 */
export async function callGetPresence(system: ActorSystem, ref: ActorRef): Promise<Element> {
  const reply = await system.call<unknown>(ref, GET_PRESENCE, DEFAULTS.connectionCallTimeoutMs);
  if (typeof reply !== 'object' || reply === null || (reply as Element).name !== 'presence') {
    throw new TypeError('the connection did not answer get_presence with a presence');
  }
  return reply as Element;
}

/** `ejabberd_c2s:set_presence/2` (a call of `DEFAULTS.connectionCallTimeoutMs`). */
export async function callSetPresence(system: ActorSystem, ref: ActorRef, presence: Element): Promise<void> {
  const call: SetPresenceCall = { type: 'set_presence', presence };
  await system.call(ref, call, DEFAULTS.connectionCallTimeoutMs);
}
