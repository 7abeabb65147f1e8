// The subscription state machine (RFC 6121 §3, Appendix A) as ejabberd's mod_roster tables encode
// it: every valid state against a reference model written from the RFC's rules, and, with
// fast-check, two users' rosters kept in agreement by any sequence of subscription stanzas.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Ask,
  inAutoReply,
  inStateChange,
  outStateChange,
  type Subscription,
  type SubscriptionState,
  type SubscriptionType,
} from '../src/rosterSubscription.ts';

const TYPES: readonly SubscriptionType[] = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'];

/** The reference: four booleans (RFC 6121 §3: to, from, pending out, pending in). */
interface Model {
  to: boolean;
  from: boolean;
  out: boolean;
  in: boolean;
}
const toModel = (s: SubscriptionState): Model => ({
  to: s.subscription === 'to' || s.subscription === 'both',
  from: s.subscription === 'from' || s.subscription === 'both',
  out: s.ask === 'out' || s.ask === 'both',
  in: s.ask === 'in' || s.ask === 'both',
});
const fromModel = (m: Model): SubscriptionState => ({
  subscription: (m.to ? (m.from ? 'both' : 'to') : m.from ? 'from' : 'none') as Subscription,
  ask: (m.out ? (m.in ? 'both' : 'out') : m.in ? 'in' : 'none') as Ask,
});

/** The user sends `type` to the contact (RFC 6121 §3.1.2, §3.2, §3.3, §3.4 for the user's server). */
function modelOut(m: Model, type: SubscriptionType): Model {
  switch (type) {
    case 'subscribe':
      return m.to ? m : { ...m, out: true };
    case 'subscribed':
      // ejabberd also grants without a pending request when the user already has `to` (a mutual subscription).
      return !m.from && (m.in || m.to) ? { ...m, from: true, in: false } : m;
    case 'unsubscribe':
      return m.to || m.out ? { ...m, to: false, out: false } : m;
    case 'unsubscribed':
      return m.from || m.in ? { ...m, from: false, in: false } : m;
  }
}

/** The contact's `type` arrives (RFC 6121 §3.1.3, §3.1.5, §3.2.3, §3.3.3, for the user's server). */
function modelIn(m: Model, type: SubscriptionType): Model {
  switch (type) {
    case 'subscribe':
      return m.from ? m : { ...m, in: true };
    case 'subscribed':
      // ejabberd accepts it unrequested when the contact already has `from` (the mirror of the above).
      return !m.to && (m.out || m.from) ? { ...m, to: true, out: false } : m;
    case 'unsubscribe':
      return m.from || m.in ? { ...m, from: false, in: false } : m;
    case 'unsubscribed':
      return m.to || m.out ? { ...m, to: false, out: false } : m;
  }
}

/** The nine states RFC 6121 Appendix A names (`none` with no pending … `both`). */
const VALID: SubscriptionState[] = [
  { subscription: 'none', ask: 'none' },
  { subscription: 'none', ask: 'out' },
  { subscription: 'none', ask: 'in' },
  { subscription: 'none', ask: 'both' },
  { subscription: 'to', ask: 'none' },
  { subscription: 'to', ask: 'in' },
  { subscription: 'from', ask: 'none' },
  { subscription: 'from', ask: 'out' },
  { subscription: 'both', ask: 'none' },
];

const apply = (s: SubscriptionState, change: SubscriptionState | undefined) => change ?? s;

describe('the tables against the reference model, every valid state and stanza', () => {
  for (const s of VALID) {
    for (const type of TYPES) {
      it(`${s.subscription}/${s.ask} ${type}`, () => {
        expect(apply(s, outStateChange(s, type))).toEqual(fromModel(modelOut(toModel(s), type)));
        expect(apply(s, inStateChange(s, type))).toEqual(fromModel(modelIn(toModel(s), type)));
      });
    }
  }
});

describe('RFC 6121 rows', () => {
  it.each([
    // [state, direction, type, expected (undefined: no change, the stanza is not delivered)]
    ['none/none', 'in', 'subscribe', 'none/in'], // RFC 6121 §3.1.3: a pending inbound request
    ['none/out', 'in', 'subscribed', 'to/none'], // RFC 6121 §3.1.5
    ['none/none', 'in', 'subscribed', undefined], // RFC 6121 §3.1.5: unsolicited, ignored
    ['both/none', 'in', 'unsubscribe', 'to/none'], // RFC 6121 §3.3.3
    ['both/none', 'in', 'unsubscribed', 'from/none'], // RFC 6121 §3.2.3
    ['none/in', 'out', 'subscribed', 'from/none'], // RFC 6121 §3.1.4: approval
    ['none/in', 'out', 'unsubscribed', 'none/none'], // RFC 6121 §3.1.4: refusal
    ['to/none', 'out', 'unsubscribe', 'none/none'], // RFC 6121 §3.3.2
  ] as const)('%s, %s %s → %s', (state, direction, type, expected) => {
    const [subscription, ask] = state.split('/') as [Subscription, Ask];
    const change = (direction === 'in' ? inStateChange : outStateChange)({ subscription, ask }, type);
    expect(change === undefined ? undefined : `${change.subscription}/${change.ask}`).toBe(expected);
  });

  it('auto-replies: subscribed to a subscriber asking again, unsubscribed to an unsubscribe of nothing kept', () => {
    expect(inAutoReply({ subscription: 'from', ask: 'none' }, 'subscribe')).toBe('subscribed');
    expect(inAutoReply({ subscription: 'both', ask: 'none' }, 'subscribe')).toBe('subscribed');
    expect(inAutoReply({ subscription: 'none', ask: 'none' }, 'subscribe')).toBeUndefined();
    expect(inAutoReply({ subscription: 'none', ask: 'in' }, 'unsubscribe')).toBe('unsubscribed');
    expect(inAutoReply({ subscription: 'to', ask: 'none' }, 'unsubscribe')).toBeUndefined();
  });
});

describe('two users, any sequence of subscription stanzas (fast-check)', () => {
  it('their rosters always agree: A has `to` iff B has `from`, A asked iff B was asked', () => {
    type Step = { from: 'A' | 'B'; type: SubscriptionType };
    const step = fc.record({ from: fc.constantFrom<'A' | 'B'>('A', 'B'), type: fc.constantFrom(...TYPES) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps: Step[]) => {
        const none: SubscriptionState = { subscription: 'none', ask: 'none' };
        const st: Record<'A' | 'B', SubscriptionState> = { A: none, B: none };
        const deliver = (sender: 'A' | 'B', type: SubscriptionType, runOut: boolean) => {
          const receiver = sender === 'A' ? 'B' : 'A';
          if (runOut) st[sender] = apply(st[sender], outStateChange(st[sender], type));
          const before = st[receiver];
          st[receiver] = apply(before, inStateChange(before, type));
          // The receiver's server answers on its behalf, without running its outbound side.
          const reply = inAutoReply(before, type);
          if (reply !== undefined) deliver(receiver, reply, false);
        };
        for (const s of steps) {
          deliver(s.from, s.type, true);
          const a = toModel(st.A);
          const b = toModel(st.B);
          expect(a.to).toBe(b.from);
          expect(a.from).toBe(b.to);
          expect(a.out).toBe(b.in);
          expect(a.in).toBe(b.out);
          // Only the nine states of RFC 6121 Appendix A are ever reached.
          expect(VALID).toContainEqual(st.A);
          expect(VALID).toContainEqual(st.B);
        }
      }),
      { numRuns: 500 },
    );
  });
});
