// Sid order (ejabberd_sm's `{unique_timestamp(), Pid}` compared as Erlang terms): time,
// then the per-node counter, then the node that made it, then the connection's ref (node, id).
// Sessions of one user made on several nodes in the same second with the same counter are told
// apart by node: "newest sid wins" must pick the same row on every node.
import { ActorRef } from '@otp-chat/actor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanSessionList, newestSession, oldestSession, Session } from '../src/Session.ts';
import { compareSid, Sid, SidFactory } from '../src/Sid.ts';

const sid = (time: number, counter: number, node: string, refNode = node, refId = counter) =>
  new Sid(time, counter, node, new ActorRef(refNode, refId));

describe('compareSid (Erlang term order of {Timestamp, Pid})', () => {
  const rows: Array<{ name: string; older: Sid; newer: Sid }> = [
    { name: 'time first', older: sid(10, 99, 'z@h'), newer: sid(11, 1, 'a@h') },
    { name: 'then the counter', older: sid(10, 1, 'z@h'), newer: sid(10, 2, 'a@h') },
    { name: 'then the node that made it', older: sid(10, 1, 'a@h'), newer: sid(10, 1, 'b@h') },
    {
      name: "then the ref's node",
      older: sid(10, 1, 'n@h', 'a@h', 5),
      newer: sid(10, 1, 'n@h', 'b@h', 1),
    },
    { name: "then the ref's id", older: sid(10, 1, 'n@h', 'n@h', 1), newer: sid(10, 1, 'n@h', 'n@h', 2) },
    {
      name: 'node names compare as strings, not by length',
      older: sid(10, 1, 'node10@h'),
      newer: sid(10, 1, 'node9@h'),
    },
  ];
  it.each(rows)('$name', ({ older, newer }) => {
    expect(compareSid(older, newer)).toBeLessThan(0);
    expect(compareSid(newer, older)).toBeGreaterThan(0);
    expect(compareSid(older, older)).toBe(0);
    expect(compareSid(older, Sid.fromJSON(older.toJSON()))).toBe(0);
    expect(older.equals(newer)).toBe(false);
  });

  it('is a total order consistent with equals (property)', () => {
    const sidArb = fc
      .record({
        time: fc.integer({ min: 0, max: 3 }),
        counter: fc.integer({ min: 0, max: 3 }),
        node: fc.constantFrom('a@h', 'b@h', 'node10@h', 'node9@h'),
        refNode: fc.constantFrom('a@h', 'b@h'),
        refId: fc.integer({ min: 1, max: 3 }),
      })
      .map((r) => sid(r.time, r.counter, r.node, r.refNode, r.refId));
    fc.assert(
      fc.property(sidArb, sidArb, sidArb, (a, b, c) => {
        const ab = Math.sign(compareSid(a, b));
        expect(Math.sign(compareSid(b, a)) + ab).toBe(0);
        expect(ab === 0).toBe(a.equals(b));
        expect(ab === 0).toBe(a.key() === b.key());
        if (ab <= 0 && compareSid(b, c) <= 0) expect(compareSid(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('SidFactory makes strictly increasing sids, also within one second', () => {
    let now = 1_700_000_000_500;
    const factory = new SidFactory('n@h', () => now);
    const a = factory.make(new ActorRef('n@h', 7));
    const b = factory.make(new ActorRef('n@h', 3));
    now += 1000;
    const c = factory.make(new ActorRef('n@h', 1));
    expect(a.time).toBe(1_700_000_000);
    expect(compareSid(a, b)).toBeLessThan(0);
    expect(compareSid(b, c)).toBeLessThan(0);
  });
});

describe('newest / oldest / clean_session_list across nodes', () => {
  // Two nodes opened a session for the same resource in the same second with the same counter.
  const onA = new Session(sid(10, 1, 'a@h'), 'u', 'h', 'r', 1);
  const onB = new Session(sid(10, 1, 'b@h'), 'u', 'h', 'r', 2);
  const other = new Session(sid(9, 5, 'c@h'), 'u', 'h', 'other', 0);

  it('newest and oldest do not depend on the order of the rows', () => {
    for (const list of [
      [onA, onB, other],
      [other, onB, onA],
      [onB, other, onA],
    ]) {
      expect(newestSession(list)).toBe(onB);
      expect(oldestSession(list)).toBe(other);
      expect(new Set(cleanSessionList(list))).toEqual(new Set([onB, other]));
    }
    expect(newestSession([])).toBeUndefined();
    expect(oldestSession([])).toBeUndefined();
  });
});
