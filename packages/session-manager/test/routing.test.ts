import { type Jid, parseJid } from '@otp-chat/jid';
import xml, { type Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { presentResources, type RoutingEnv, routeStanza } from '../src/routing.ts';
import type { Session } from '../src/Session.ts';
import { makeRow } from '../src/testing/index.ts';

type Event =
  | { kind: 'deliver'; to: string; sid: number; smCopy: boolean; stanzaTo: string }
  | { kind: 'offline' }
  | { kind: 'bounce'; tag: 'bounce' | 'pass' }
  | { kind: 'iq' }
  | { kind: 'subscription-check' };

function recorder(allowSubscription = true): { env: RoutingEnv; events: Event[] } {
  const events: Event[] = [];
  const env: RoutingEnv = {
    deliver(s, stanza, smCopy) {
      events.push({
        kind: 'deliver',
        to: s.lresource,
        sid: s.sid.counter,
        smCopy,
        stanzaTo: String(stanza.attrs.to),
      });
    },
    subscriptionAllowed() {
      events.push({ kind: 'subscription-check' });
      return allowSubscription;
    },
    offline() {
      events.push({ kind: 'offline' });
    },
    bounce(tag) {
      events.push({ kind: 'bounce', tag });
    },
    iq() {
      events.push({ kind: 'iq' });
    },
  };
  return { env, events };
}

const H = 'example.com';
const row = (r: string, n: number, priority?: number): Session =>
  makeRow('alice', H, r, n, priority === undefined ? {} : { priority });

function msg(to: string, type?: string): Element {
  return xml('message', { to, from: 'bob@example.com/x', ...(type ? { type } : {}) }, xml('body', {}, 'hi'));
}
function pres(to: string, type?: string): Element {
  return xml('presence', { to, from: 'bob@example.com/x', ...(type ? { type } : {}) });
}
function iq(to: string, type: string): Element {
  return xml('iq', { to, from: 'bob@example.com/x', type, id: '1' }, xml('query', { xmlns: 'urn:x' }));
}

function run(stanza: Element, sessions: Session[], allowSubscription = true): Event[] {
  const { env, events } = recorder(allowSubscription);
  const to: Jid = parseJid(String(stanza.attrs.to));
  const r = routeStanza(stanza, to, sessions, env);
  expect(r).toBeUndefined();
  return events;
}

const deliveries = (events: Event[]) =>
  events
    .filter((e): e is Extract<Event, { kind: 'deliver' }> => e.kind === 'deliver')
    .map((e) => `${e.to}#${e.sid}${e.smCopy ? ' copy' : ''}`)
    .sort();

describe('ejabberd_sm:do_route/1 decision table', () => {
  const sessions = [row('a', 1, 5), row('b', 2, -1), row('c', 3), row('a', 4, 5)];

  for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']) {
    it(`row 1: presence ${type} to a bare JID goes to every row with an integer priority, not deduplicated`, () => {
      const events = run(pres('alice@example.com', type), sessions);
      expect(events[0]).toEqual({ kind: 'subscription-check' });
      expect(deliveries(events)).toEqual(['a#1', 'a#4', 'b#2']);
      const to = events.filter((e) => e.kind === 'deliver').map((e) => (e as { stanzaTo: string }).stanzaTo);
      expect(to.sort()).toEqual(['alice@example.com/a', 'alice@example.com/a', 'alice@example.com/b']);
    });
  }

  it('row 1: a subscription presence to a full JID also goes to all present rows', () => {
    expect(deliveries(run(pres('alice@example.com/c', 'subscribe'), sessions))).toEqual([
      'a#1',
      'a#4',
      'b#2',
    ]);
  });

  it('row 1: when privacy or roster_in_subscription says no, nothing happens', () => {
    const events = run(pres('alice@example.com', 'subscribe'), sessions, false);
    expect(events).toEqual([{ kind: 'subscription-check' }]);
  });

  it('row 2: presence to a bare JID goes to each present resource (newest row), rewritten to the full JID', () => {
    const events = run(pres('alice@example.com'), sessions);
    expect(deliveries(events)).toEqual(['a#4', 'b#2']);
    expect(events.every((e) => e.kind !== 'deliver' || e.stanzaTo === `alice@example.com/${e.to}`)).toBe(
      true,
    );
  });

  it('row 2: presence unavailable to a bare JID also goes to present resources', () => {
    expect(deliveries(run(pres('alice@example.com', 'unavailable'), sessions))).toEqual(['a#4', 'b#2']);
  });

  it('row 2: with no present resource nothing happens, no error', () => {
    expect(run(pres('alice@example.com'), [row('c', 1)])).toEqual([]);
    expect(run(pres('alice@example.com'), [])).toEqual([]);
  });

  for (const type of ['chat', 'headline', 'normal', undefined]) {
    it(`row 3: message ${type ?? '(no type = normal)'} to a bare JID → route_message/1`, () => {
      expect(deliveries(run(msg('alice@example.com', type), sessions))).toEqual(['a#4']);
    });
  }

  for (const type of ['groupchat', 'error']) {
    it(`row 3: message ${type} to a bare JID → bounce_sm_packet {bounce}`, () => {
      expect(run(msg('alice@example.com', type), sessions)).toEqual([{ kind: 'bounce', tag: 'bounce' }]);
    });
  }

  for (const type of ['get', 'set']) {
    it(`row 4: iq ${type} to a bare JID → the IQ handler table`, () => {
      expect(run(iq('alice@example.com', type), sessions)).toEqual([{ kind: 'iq' }]);
    });
  }

  for (const type of ['result', 'error']) {
    it(`row 4: iq ${type} to a bare JID → bounce_sm_packet {pass} (dropped)`, () => {
      expect(run(iq('alice@example.com', type), sessions)).toEqual([{ kind: 'bounce', tag: 'pass' }]);
    });
  }

  const full: [string, Element][] = [
    ['message chat', msg('alice@example.com/c', 'chat')],
    ['message groupchat', msg('alice@example.com/c', 'groupchat')],
    ['message headline', msg('alice@example.com/c', 'headline')],
    ['presence', pres('alice@example.com/c')],
    ['iq get', iq('alice@example.com/c', 'get')],
    ['iq result', iq('alice@example.com/c', 'result')],
  ];
  for (const [label, stanza] of full) {
    it(`row 5: ${label} to a full JID with a session goes to its newest row, even with priority undefined`, () => {
      const rows = [row('c', 1), row('c', 7), row('a', 2, 10)];
      const events = run(stanza, rows);
      expect(deliveries(events)).toEqual(['c#7']);
      expect(events).toHaveLength(1);
    });
  }

  it('row 5: without a session, message chat falls back to bare routing', () => {
    expect(deliveries(run(msg('alice@example.com/zzz', 'chat'), sessions))).toEqual(['a#4']);
  });

  it('row 5: without a session, message normal falls back to bare routing', () => {
    expect(deliveries(run(msg('alice@example.com/zzz'), sessions))).toEqual(['a#4']);
  });

  it('row 5: without a session, message chat and nobody available → offline path', () => {
    expect(run(msg('alice@example.com/zzz', 'chat'), [])).toEqual([{ kind: 'offline' }]);
  });

  it('row 5: without a session, message headline → {pass} (dropped)', () => {
    expect(run(msg('alice@example.com/zzz', 'headline'), sessions)).toEqual([
      { kind: 'bounce', tag: 'pass' },
    ]);
  });

  it('row 5: without a session, any presence → {pass} (dropped)', () => {
    expect(run(pres('alice@example.com/zzz'), sessions)).toEqual([{ kind: 'bounce', tag: 'pass' }]);
    expect(run(pres('alice@example.com/zzz', 'probe'), sessions)).toEqual([{ kind: 'bounce', tag: 'pass' }]);
  });

  for (const [label, stanza] of [
    ['iq get', iq('alice@example.com/zzz', 'get')],
    ['iq set', iq('alice@example.com/zzz', 'set')],
    ['iq result', iq('alice@example.com/zzz', 'result')],
    ['iq error', iq('alice@example.com/zzz', 'error')],
    ['message groupchat', msg('alice@example.com/zzz', 'groupchat')],
    ['message error', msg('alice@example.com/zzz', 'error')],
  ] as const) {
    it(`row 5: without a session, ${label} → {bounce}`, () => {
      expect(run(stanza, sessions)).toEqual([{ kind: 'bounce', tag: 'bounce' }]);
    });
  }
});

describe('ejabberd_sm:route_message/1 priority rules', () => {
  const to = 'alice@example.com';

  it('highest priority wins', () => {
    expect(deliveries(run(msg(to, 'chat'), [row('a', 1, 1), row('b', 2, 3), row('c', 3, 2)]))).toEqual([
      'b#2',
    ]);
  });

  it('ties at the highest priority go to all; the greatest resource gets the unmarked copy, the others sm_copy', () => {
    const events = run(msg(to, 'chat'), [row('a', 1, 3), row('c', 2, 3), row('b', 3, 3), row('d', 4, 1)]);
    expect(deliveries(events)).toEqual(['a#1 copy', 'b#3 copy', 'c#2']);
  });

  it('a session with a negative priority never gets bare-JID messages', () => {
    expect(deliveries(run(msg(to, 'chat'), [row('a', 1, -1), row('b', 2, 0)]))).toEqual(['b#2']);
  });

  it('when every present session is negative, the message goes offline', () => {
    expect(run(msg(to, 'chat'), [row('a', 1, -1), row('b', 2, -5)])).toEqual([{ kind: 'offline' }]);
    expect(run(msg(to, 'chat'), [row('a', 1, -1)])).toEqual([{ kind: 'offline' }]);
  });

  it('sessions with priority undefined are not available: offline', () => {
    expect(run(msg(to, 'chat'), [row('a', 1), row('b', 2)])).toEqual([{ kind: 'offline' }]);
    expect(run(msg(to, 'chat'), [row('a', 1)])).toEqual([{ kind: 'offline' }]);
  });

  it('no session at all: offline', () => {
    expect(run(msg(to, 'normal'), [])).toEqual([{ kind: 'offline' }]);
  });

  it('priority 0 is available', () => {
    expect(deliveries(run(msg(to, 'chat'), [row('a', 1, 0)]))).toEqual(['a#1']);
  });

  it('headline goes to every priority ≥ 0; lower priorities unmarked, ties marked', () => {
    const events = run(msg(to, 'headline'), [
      row('a', 1, 5),
      row('b', 2, 5),
      row('c', 3, 0),
      row('d', 4, -1),
      row('e', 5),
    ]);
    expect(deliveries(events)).toEqual(['a#1 copy', 'b#2', 'c#3']);
  });

  it('headline with only negative priorities goes offline', () => {
    expect(run(msg(to, 'headline'), [row('a', 1, -2)])).toEqual([{ kind: 'offline' }]);
  });

  it('normal (like chat) goes only to the maximum', () => {
    expect(deliveries(run(msg(to), [row('a', 1, 5), row('b', 2, 0)]))).toEqual(['a#1']);
  });

  it('several rows of one resource: the newest row decides its priority and gets the message', () => {
    // a#1 (old, prio 9) is being replaced by a#3 (prio 1): a counts as priority 1.
    const events = run(msg(to, 'chat'), [row('a', 1, 9), row('b', 2, 2), row('a', 3, 1)]);
    expect(deliveries(events)).toEqual(['b#2']);
  });

  it('presentResources deduplicates per resource and keeps negative, drops undefined', () => {
    const got = presentResources([row('a', 1, 9), row('a', 3, -1), row('b', 2)]);
    expect(got).toEqual([{ priority: -1, resource: 'a' }]);
  });
});

describe('route_message/1: MaxRes in Erlang term order (binaries compare byte-wise)', () => {
  // lists:max([{Prio, LRes}]) compares the resources as UTF-8 binaries, i.e. by code point. JS `>`
  // compares UTF-16 code units: an astral character (surrogates D800-DFFF) sorts *below* U+E000-FFFF.
  const bmp = '\uFA0E'; // UTF-8 EF A8 8E
  const astral = '\u{20000}'; // UTF-8 F0 A0 80 80: the greater binary
  const table: [string, Session[], string[]][] = [
    ['astral resource is MaxRes', [row(bmp, 1, 3), row(astral, 2, 3)], [`${bmp}#1 copy`, `${astral}#2`]],
    ['order of rows does not matter', [row(astral, 1, 3), row(bmp, 2, 3)], [`${astral}#1`, `${bmp}#2 copy`]],
    ['ASCII vs astral', [row('zzz', 1, 0), row(astral, 2, 0)], [`${astral}#2`, 'zzz#1 copy']],
  ];
  for (const [label, sessions, expected] of table) {
    it(`ties get sm_copy except the greatest resource as a binary: ${label}`, () => {
      expect(deliveries(run(msg('alice@example.com', 'chat'), sessions))).toEqual(expected.sort());
    });
  }
});

describe('paths the mutation run found untested', () => {
  it('row 1 with an asynchronous privacy / roster_in_subscription answer: delivered on true, dropped on false', async () => {
    const sessions = [row('a', 1, 5), row('b', 2, 0)];
    for (const allowed of [true, false]) {
      const { env, events } = recorder();
      env.subscriptionAllowed = () => Promise.resolve(allowed);
      const stanza = pres('alice@example.com', 'subscribe');
      const r = routeStanza(stanza, parseJid(String(stanza.attrs.to)), sessions, env);
      expect(r).toBeInstanceOf(Promise);
      expect(deliveries(events)).toEqual([]); // nothing before the answer
      await r;
      expect(deliveries(events)).toEqual(allowed ? ['a#1', 'b#2'] : []);
    }
  });

  it('an empty type attribute is a normal message (RFC 6121 §5.2.2)', () => {
    const stanza = xml('message', { to: 'alice@example.com', type: '' }, xml('body', {}, 'hi'));
    expect(deliveries(run(stanza, [row('a', 1, 1), row('b', 2, 0)]))).toEqual(['a#1']);
  });

  it.each([
    { priority: undefined, expect: 'offline' },
    { priority: -1, expect: 'offline' },
    { priority: 0, expect: 'a#1' },
  ])('one row only (the fast path), priority $priority → $expect', ({ priority, expect: want }) => {
    const events = run(msg('alice@example.com', 'chat'), [row('a', 1, priority)]);
    if (want === 'offline') expect(events).toEqual([{ kind: 'offline' }]);
    else expect(deliveries(events)).toEqual([want]);
  });
});
