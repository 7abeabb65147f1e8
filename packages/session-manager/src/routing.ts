import type { MaybePromise } from '@otp-chat/actor';
import type { Jid } from '@otp-chat/jid';
import type { Element } from '@xmpp/xml';
import { compareBinary } from './internal/compareBinary.ts';
import { copyElement } from './internal/copyElement.ts';
import { cleanSessionList, type Session } from './Session.ts';
import { compareSid } from './Sid.ts';

/**
 * What the routing decision needs from the outside world. The decision itself (`ejabberd_sm:do_route/1`, `route_message/1`)
 * is pure: given a stanza, its prepared destination and the user's rows, it calls these.
 */
export interface RoutingEnv {
  /** Sends `{route, stanza}` to the session's connection actor. */
  deliver(session: Session, stanza: Element, smCopy: boolean): void;
  /**
   * Row 1: `privacy_check_packet` allows it **and** the `roster_in_subscription` fold (from
   * `false`) returns true.
   */
  subscriptionAllowed(presence: Element, to: Jid): MaybePromise<boolean>;
  /**
   * `route_message/1` when no resource is available: if the user exists and privacy allows, the
   * `offline_message_hook` fold from `{bounce, message}`; otherwise a `service-unavailable` error.
   */
  offline(message: Element, to: Jid): MaybePromise<void>;
  /** The `bounce_sm_packet` fold from `{tag, stanza}`. */
  bounce(tag: 'bounce' | 'pass', stanza: Element, to: Jid): MaybePromise<void>;
  /** An IQ get/set to a bare JID: the IQ handler table (`gen_iq_handler:handle/2`). */
  iq(iq: Element, to: Jid): MaybePromise<void>;
}

/** A present resource: an integer priority (negative included) and the prepared resource. */
export interface PresentResource {
  readonly priority: number;
  readonly resource: string;
}

const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set([
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
]);

/** `get_user_present_resources/2` over the rows of one user: deduplicated, integer priorities only. */
export function presentResources(sessions: readonly Session[]): PresentResource[] {
  const out: PresentResource[] = [];
  const rows = sessions.length === 1 ? sessions : cleanSessionList(sessions);
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i]!;
    if (s.priority !== undefined) out.push({ priority: s.priority, resource: s.lresource });
  }
  return out;
}

/** The newest row of `lresource` among `sessions`, if any. */
export function newestOfResource(sessions: readonly Session[], lresource: string): Session | undefined {
  let best: Session | undefined;
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    if (s.lresource === lresource && (best === undefined || compareSid(s.sid, best.sid) > 0)) best = s;
  }
  return best;
}

/** A copy of `stanza` addressed to `to` (`P#presence{to = ...}`). */
function withTo(stanza: Element, to: string): Element {
  return copyElement(stanza, { to });
}

/** The message type, `normal` when absent (RFC 6121 §5.2.2). */
export function messageType(message: Element): string {
  const t = message.attrs.type;
  return typeof t === 'string' && t !== '' ? t : 'normal';
}

/**
 * `do_route/1`: routes `stanza` to the local user `to` (prepared parts), whose rows
 * (all of them, after read-repair) are `sessions`. The clauses are tried in the spec's order.
 */
export function routeStanza(
  stanza: Element,
  to: Jid,
  sessions: readonly Session[],
  env: RoutingEnv,
): MaybePromise<void> {
  const name = stanza.name;
  // Row 1: subscription presences, bare or full.
  if (name === 'presence' && SUBSCRIPTION_TYPES.has(stanza.attrs.type)) {
    const allowed = env.subscriptionAllowed(stanza, to);
    if (typeof allowed === 'boolean') {
      if (allowed) deliverSubscription(stanza, to, sessions, env);
      return;
    }
    return allowed.then((ok) => {
      if (ok) deliverSubscription(stanza, to, sessions, env);
    });
  }
  if (to.lresource === '') {
    if (name === 'presence') {
      // Row 2: to each present resource, as a full-JID stanza (row 5); nothing when none.
      for (const { resource } of presentResources(sessions)) {
        const s = newestOfResource(sessions, resource);
        if (s !== undefined) env.deliver(s, withTo(stanza, fullJid(to, s.lresource)), false);
      }
      return;
    }
    if (name === 'message') {
      // Row 3.
      const type = messageType(stanza);
      if (type === 'chat' || type === 'headline' || type === 'normal') {
        return routeMessage(stanza, to, sessions, env);
      }
      return env.bounce('bounce', stanza, to);
    }
    if (name === 'iq') {
      // Row 4.
      const type = stanza.attrs.type;
      if (type === 'get' || type === 'set') return env.iq(stanza, to);
      return env.bounce('pass', stanza, to);
    }
    return env.bounce('bounce', stanza, to);
  }
  // Row 5: full JID.
  const s = newestOfResource(sessions, to.lresource);
  if (s !== undefined) {
    env.deliver(s, stanza, false);
    return;
  }
  if (name === 'message') {
    const type = messageType(stanza);
    if (type === 'chat' || type === 'normal') return routeMessage(stanza, to, sessions, env);
    if (type === 'headline') return env.bounce('pass', stanza, to);
    return env.bounce('bounce', stanza, to);
  }
  if (name === 'presence') return env.bounce('pass', stanza, to);
  return env.bounce('bounce', stanza, to);
}

function fullJid(to: Jid, lresource: string): string {
  const bare = to.local === '' ? to.domain : `${to.local}@${to.domain}`;
  return `${bare}/${lresource}`;
}

function deliverSubscription(stanza: Element, to: Jid, sessions: readonly Session[], env: RoutingEnv): void {
  // Every row, not deduplicated, with an integer priority (as `do_route/1` for subscription presences).
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    if (s.priority !== undefined) env.deliver(s, withTo(stanza, fullJid(to, s.lresource)), false);
  }
}

/**
 * `route_message/1`: the highest non-negative priority wins, ties to all, the
 * greatest resource (as a binary: code point order) gets the unmarked copy and the others `sm_copy`; a headline
 * also goes (unmarked) to every other priority ≥ 0; nothing available, or only negative
 * priorities, → the offline path.
 */
export function routeMessage(
  message: Element,
  to: Jid,
  sessions: readonly Session[],
  env: RoutingEnv,
): MaybePromise<void> {
  // Fast path: one row.
  if (sessions.length === 1) {
    const s = sessions[0]!;
    if (s.priority !== undefined && s.priority >= 0) {
      env.deliver(s, message, false);
      return;
    }
    return env.offline(message, to);
  }
  const present = presentResources(sessions);
  let maxPrio = 0;
  let maxRes = '';
  let found = false;
  for (const { priority, resource } of present) {
    if (!found || priority > maxPrio || (priority === maxPrio && compareBinary(resource, maxRes) > 0)) {
      maxPrio = priority;
      maxRes = resource;
      found = true;
    }
  }
  if (!found || maxPrio < 0) return env.offline(message, to);
  const headline = messageType(message) === 'headline';
  for (const { priority, resource } of present) {
    if (priority === maxPrio || (priority >= 0 && headline)) {
      const s = newestOfResource(sessions, resource);
      if (s === undefined) continue;
      env.deliver(s, message, priority === maxPrio && resource !== maxRes);
    }
  }
}
