// Model-based test of exit-signal propagation (OTP's exit signals: `link/1`, `process_flag(trap_exit, true)`, the Processes chapter of the Erlang reference manual): random link graphs, random trap flags,
// random exit/stop events, compared with a small reference model of OTP's rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActorRef, ExitMessage, ExitReason } from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

type Event =
  | { readonly kind: 'exit'; readonly target: number; readonly reason: ExitReason }
  | { readonly kind: 'stop'; readonly target: number };

interface ModelActor {
  trapping: boolean;
  alive: boolean;
  reason: ExitReason | undefined;
  links: Set<number>;
  exits: Array<{ from: number | undefined; reason: ExitReason }>;
}

function modelRun(trap: boolean[], links: Array<[number, number]>, events: Event[]): ModelActor[] {
  const actors: ModelActor[] = trap.map((trapping) => ({
    trapping,
    alive: true,
    reason: undefined,
    links: new Set(),
    exits: [],
  }));
  for (const [a, b] of links) {
    if (a === b) continue;
    actors[a]!.links.add(b);
    actors[b]!.links.add(a);
  }
  const die = (i: number, reason: ExitReason) => {
    const queue: Array<[number, ExitReason]> = [[i, reason]];
    while (queue.length > 0) {
      const [who, why] = queue.shift()!;
      const actor = actors[who]!;
      if (!actor.alive) continue;
      actor.alive = false;
      actor.reason = why;
      for (const other of actor.links) {
        const linked = actors[other]!;
        linked.links.delete(who);
        if (!linked.alive) continue;
        if (linked.trapping) linked.exits.push({ from: who, reason: why });
        else if (why !== 'normal') queue.push([other, why]);
      }
      actor.links.clear();
    }
  };
  for (const event of events) {
    const target = actors[event.target]!;
    if (!target.alive) continue;
    if (event.kind === 'stop') die(event.target, 'normal');
    else if (event.reason === 'kill') die(event.target, 'killed');
    else if (target.trapping) target.exits.push({ from: undefined, reason: event.reason });
    else if (event.reason !== 'normal') die(event.target, event.reason);
  }
  return actors;
}

const reasonArb = fc.constantFrom<ExitReason>(
  'normal',
  'shutdown',
  'kill',
  { error: 'boom' },
  { shutdown: 'bye' },
);

describe('exit-signal propagation against a reference model', () => {
  it('agrees on who dies, with which reason, and which EXIT messages trapping actors get', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.record({
            trap: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
            links: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 10 }),
            events: fc.array(
              fc.oneof(
                fc.record({ kind: fc.constant('exit' as const), target: fc.nat(n - 1), reason: reasonArb }),
                fc.record({ kind: fc.constant('stop' as const), target: fc.nat(n - 1) }),
              ),
              { minLength: 1, maxLength: 6 },
            ),
          }),
        ),
        async ({ trap, links, events }) => {
          const { system } = testSystem();
          const refs: ActorRef[] = [];
          for (const t of trap) refs.push(await system.spawn(probe({ trapExit: t }), undefined));
          const reasons = new Map<number, ExitReason>();
          system.onExit((ref, reason) =>
            reasons.set(
              refs.findIndex((r) => r.equals(ref)),
              reason,
            ),
          );
          for (const [a, b] of links)
            if (a !== b) await system.call(refs[a]!, { type: 'link', to: refs[b]! });
          for (const event of events) {
            const ref = refs[event.target]!;
            if (!system.isAlive(ref)) continue;
            if (event.kind === 'stop') await system.stop(ref);
            else system.exit(ref, event.reason);
            await flush();
          }
          const model = modelRun(trap, links, events);
          for (let i = 0; i < refs.length; i++) {
            const expected = model[i]!;
            expect(system.isAlive(refs[i]!)).toBe(expected.alive);
            if (!expected.alive) expect(reasons.get(i)).toEqual(expected.reason);
            else if (expected.trapping) {
              const inbox = (await system.call(refs[i]!, { type: 'inbox' })) as ExitMessage[];
              const got = inbox.map((m) => ({
                from: m.from === undefined ? undefined : refs.findIndex((r) => r.equals(m.from!)),
                reason: m.reason,
              }));
              expect(got).toEqual(expected.exits);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
