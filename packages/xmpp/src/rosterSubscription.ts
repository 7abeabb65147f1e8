/**
 * The presence subscription state machine of a roster item (RFC 6121 §3 and Appendix A), as
 * ejabberd's `mod_roster:in_state_change/3`, `out_state_change/3` and `in_auto_reply/3` encode it:
 * the subscription (`none | to | from | both`) and the pending requests (`ask`: `none`, `out` = we
 * asked them, `in` = they asked us, `both`).
 */
export type Subscription = 'none' | 'to' | 'from' | 'both';
export type Ask = 'none' | 'in' | 'out' | 'both';
export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

/** A state: subscription and pending requests. */
export interface SubscriptionState {
  readonly subscription: Subscription;
  readonly ask: Ask;
}

/** `undefined`: no change (ejabberd's `none`); the inbound stanza is then not delivered. */
export type StateChange = SubscriptionState | undefined;

const TYPES: readonly SubscriptionType[] = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'];

type Row = readonly [Subscription, Ask, readonly (string | null)[]];

/** `sub/ask` target per type (subscribe, subscribed, unsubscribe, unsubscribed); null: no change. */
const IN: readonly Row[] = [
  ['none', 'none', ['none/in', null, null, null]],
  ['none', 'out', ['none/both', 'to/none', null, 'none/none']],
  ['none', 'in', [null, null, 'none/none', null]],
  ['none', 'both', [null, 'to/in', 'none/out', 'none/in']],
  ['to', 'none', ['to/in', null, null, 'none/none']],
  ['to', 'in', [null, null, 'to/none', 'none/in']],
  ['from', 'none', [null, 'both/none', 'none/none', null]],
  ['from', 'out', [null, 'both/none', 'none/out', 'from/none']],
  ['both', 'none', [null, null, 'to/none', 'from/none']],
  // States a roster edit through the API can leave (`mod_roster`: "invalid states").
  ['to', 'out', ['to/in', null, null, 'none/none']],
  ['to', 'both', [null, null, 'to/none', 'none/in']],
  ['from', 'in', [null, 'both/none', 'none/none', null]],
  ['from', 'both', [null, 'both/none', 'none/out', 'from/none']],
  ['both', 'in', [null, null, 'to/none', 'from/none']],
  ['both', 'out', [null, null, 'to/none', 'from/none']],
  ['both', 'both', [null, null, 'to/none', 'from/none']],
];

const OUT: readonly Row[] = [
  ['none', 'none', ['none/out', null, null, null]],
  // Sent again while pending: the request is resent (RFC 3921 §9.2).
  ['none', 'out', ['none/out', null, 'none/none', null]],
  ['none', 'in', ['none/both', 'from/none', null, 'none/none']],
  ['none', 'both', [null, 'from/out', 'none/in', 'none/out']],
  ['to', 'none', [null, 'both/none', 'none/none', null]],
  ['to', 'in', [null, 'both/none', 'none/in', 'to/none']],
  ['from', 'none', ['from/out', null, null, 'none/none']],
  ['from', 'out', [null, null, 'from/none', 'none/out']],
  ['both', 'none', [null, null, 'from/none', 'to/none']],
  ['to', 'out', [null, 'both/none', 'none/none', null]],
  ['to', 'both', [null, 'both/none', 'none/in', 'to/none']],
  ['from', 'in', ['from/out', null, null, 'none/none']],
  ['from', 'both', [null, null, 'from/none', 'none/out']],
  ['both', 'in', [null, null, 'from/none', 'to/none']],
  ['both', 'out', [null, null, 'from/none', 'to/none']],
  ['both', 'both', [null, null, 'from/none', 'to/none']],
];

function compile(rows: readonly Row[]): ReadonlyMap<string, StateChange> {
  const m = new Map<string, StateChange>();
  for (const [sub, ask, targets] of rows) {
    targets.forEach((t, i) => {
      const [s, a] = t === null ? [] : t.split('/');
      m.set(
        `${sub}/${ask}/${TYPES[i]}`,
        t === null ? undefined : { subscription: s as Subscription, ask: a as Ask },
      );
    });
  }
  return m;
}

const IN_TABLE = compile(IN);
const OUT_TABLE = compile(OUT);

/** `in_state_change/3`: the new state after a subscription stanza from the contact. */
export function inStateChange(state: SubscriptionState, type: SubscriptionType): StateChange {
  return IN_TABLE.get(`${state.subscription}/${state.ask}/${type}`);
}

/** `out_state_change/3`: the new state after the user sent a subscription stanza to the contact. */
export function outStateChange(state: SubscriptionState, type: SubscriptionType): StateChange {
  return OUT_TABLE.get(`${state.subscription}/${state.ask}/${type}`);
}

/**
 * `in_auto_reply/3`: the reply the server sends on the user's behalf, without asking the client:
 * `subscribed` to a `subscribe` from a contact that already has a subscription from us, and
 * `unsubscribed` to an `unsubscribe` of a subscription or request that no longer exists
 * (RFC 6121 §3.1.3, §3.3.3).
 */
export function inAutoReply(
  state: SubscriptionState,
  type: SubscriptionType,
): 'subscribed' | 'unsubscribed' | undefined {
  const { subscription: s, ask: a } = state;
  if (
    type === 'subscribe' &&
    ((s === 'from' && (a === 'none' || a === 'out')) || (s === 'both' && a === 'none'))
  ) {
    return 'subscribed';
  }
  if (type === 'unsubscribe') {
    if (s === 'none' && (a === 'in' || a === 'both')) return 'unsubscribed';
    if (s === 'to' && a === 'in') return 'unsubscribed';
    if ((s === 'from' && (a === 'none' || a === 'out')) || (s === 'both' && a === 'none'))
      return 'unsubscribed';
  }
  return undefined;
}

/** True for the four subscription presence types. */
export function isSubscriptionType(type: unknown): type is SubscriptionType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}
