// The membership rules, without Redis: when another node counts as up or down, and why a node cut
// off from Redis does not declare everyone dead.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberEntry, Membership, type MembershipEvent } from '../src/internal/Membership.ts';

const T = 1000; // timeout

function entry(node: string, token: string, beat: number, extra: Partial<MemberEntry> = {}): MemberEntry {
  return { node, token, beat, since: 0, down: 0, cleaned: false, ...extra };
}

function brief(events: readonly MembershipEvent[]): string[] {
  return events.map((e) => (e.type === 'nodeup' ? `up ${e.node}` : `down ${e.node} ${e.reason}`));
}

/** A membership that has beaten since time 0, so that it may judge from `T` on. */
function judging(): Membership {
  const m = new Membership('me', T);
  m.beatOk(0);
  return m;
}

describe('Membership: the rules', () => {
  it('a fresh heartbeat is up; an expired one is down once this node may judge', () => {
    const m = judging();
    expect(brief(m.applyScan(500, [entry('a', 't1', 400)]).events)).toEqual(['up a']);
    expect(m.nodes()).toEqual(['a']);
    // At 1300 the heartbeat (400) is 900 old: still up.
    expect(brief(m.applyScan(1300, [entry('a', 't1', 400)]).events)).toEqual([]);
    // At 1500 it is 1100 old: down, and its clean-up is due.
    const { events, dead } = m.applyScan(1500, [entry('a', 't1', 400)]);
    expect(brief(events)).toEqual(['down a expired']);
    expect(dead.map((e) => e.node)).toEqual(['a']);
    expect(m.isUp('a')).toBe(false);
    expect(m.isDeadToken('t1')).toBe(true);
  });

  it('a node that cannot judge yet (just connected, or back from an outage) keeps its view', () => {
    const m = new Membership('me', T);
    m.beatOk(5000);
    m.announcedUp('a', 't1');
    // Everyone's heartbeat is old (Redis was down for all): not a reason to declare them dead.
    const r1 = m.applyScan(5500, [entry('a', 't1', 1000)]);
    expect(brief(r1.events)).toEqual([]);
    expect(r1.dead).toEqual([]);
    expect(m.isUp('a')).toBe(true);
    // a beats again within the window: nothing happened.
    expect(brief(m.applyScan(5800, [entry('a', 't1', 5700)]).events)).toEqual([]);
    // An outage here: judging stops again until a full timeout after the next beat.
    m.connectionLost();
    m.beatOk(9000);
    expect(brief(m.applyScan(9500, [entry('a', 't1', 5700)]).events)).toEqual([]);
    expect(brief(m.applyScan(10_000, [entry('a', 't1', 5700)]).events)).toEqual(['down a expired']);
  });

  it('a node marked down (a survivor took its clean-up, or it left) is down at once, judging or not', () => {
    const m = new Membership('me', T);
    m.beatOk(0);
    m.announcedUp('a', 't1');
    const { events, dead } = m.applyScan(100, [entry('a', 't1', 90, { down: 95 })]);
    expect(brief(events)).toEqual(['down a declared']);
    expect(dead.map((e) => e.token)).toEqual(['t1']);
    // Cleaned: no more clean-up to do.
    expect(m.applyScan(200, [entry('a', 't1', 90, { down: 95, cleaned: true })]).dead).toEqual([]);
  });

  it('a new token under a known name is a restart: nodedown then nodeup', () => {
    const m = judging();
    m.announcedUp('a', 't1');
    expect(brief(m.applyScan(100, [entry('a', 't2', 100)]).events)).toEqual(['down a restarted', 'up a']);
    expect(m.tokenOf('a')).toBe('t2');
    expect(brief(m.announcedUp('a', 't3'))).toEqual(['down a restarted', 'up a']);
  });

  it('an incarnation that expired and beats again, never marked down, is up again', () => {
    const m = judging();
    m.applyScan(100, [entry('a', 't1', 100)]);
    expect(brief(m.applyScan(1200, [entry('a', 't1', 100)]).events)).toEqual(['down a expired']);
    expect(m.heardFrom('a', 't1')).toBe('stale');
    expect(brief(m.applyScan(1300, [entry('a', 't1', 1250)]).events)).toEqual(['up a']);
    expect(m.heardFrom('a', 't1')).toEqual([]);
  });

  it('announcements: up adds, down removes only the incarnation it names; messages prove a node up', () => {
    const m = new Membership('me', T);
    expect(brief(m.announcedUp('me', 'x'))).toEqual([]);
    expect(brief(m.announcedUp('a', 't1'))).toEqual(['up a']);
    expect(brief(m.announcedDown('a', 'old'))).toEqual([]);
    expect(brief(m.announcedDown('a', 't1'))).toEqual(['down a declared']);
    expect(m.heardFrom('a', 't1')).toBe('stale');
    expect(brief(m.heardFrom('b', 'u1') as MembershipEvent[])).toEqual(['up b']);
    expect(brief(m.clear())).toEqual(['down b disconnected']);
  });

  it('an entry that disappears takes its node down (when judging)', () => {
    const m = judging();
    m.announcedUp('a', 't1');
    expect(brief(m.applyScan(1500, []).events)).toEqual(['down a gone']);
  });
});

describe('Membership: properties', () => {
  const scan = fc.record({
    at: fc.integer({ min: 1, max: 400 }),
    beats: fc.array(
      fc.record({ node: fc.constantFrom('a', 'b'), token: fc.constantFrom('1', '2'), age: fc.nat(2500) }),
      {
        maxLength: 3,
      },
    ),
    down: fc.boolean(),
    lost: fc.boolean(),
  });

  it('exactly one nodedown per nodeup of an incarnation; no nodedown for expiry while it cannot judge', () => {
    fc.assert(
      fc.property(fc.array(scan, { maxLength: 40 }), (steps) => {
        const m = new Membership('me', T);
        let now = 0;
        const up = new Map<string, string>();
        for (const s of steps) {
          now += s.at;
          if (s.lost) m.connectionLost();
          m.beatOk(now);
          const canJudge = m.canJudge(now);
          const entries = new Map<string, MemberEntry>();
          for (const b of s.beats) {
            entries.set(
              b.node,
              entry(b.node, `${b.node}${b.token}`, now - b.age, { down: s.down && b.age > T ? now : 0 }),
            );
          }
          const { events } = m.applyScan(now, [...entries.values()]);
          for (const e of events) {
            if (e.type === 'nodeup') {
              expect(up.has(e.node)).toBe(false);
              up.set(e.node, e.token);
            } else {
              expect(up.get(e.node)).toBe(e.token);
              up.delete(e.node);
              if (e.reason === 'expired' || e.reason === 'gone') expect(canJudge).toBe(true);
            }
          }
          expect(new Set(m.nodes())).toEqual(new Set(up.keys()));
        }
      }),
      { numRuns: 500 },
    );
  });
});
