import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { c2sMachine } from '../src/c2sMachine.ts';
import { type C2SSnapshot, initialStep, step } from '../src/internal/machineStep.ts';
import {
  ALL_STATES,
  C2SModel,
  Coverage,
  EVENT_NAMES,
  EVENTS,
  HOSTS,
  legalPrefix,
  scenarioArb,
} from './support/c2sModel.ts';

/** fast-check runs; `C2S_MODEL_RUNS` for a long run. */
const RUNS = Number(process.env.C2S_MODEL_RUNS ?? 500);

// machineStep memoises xstate's transition() per (snapshot, what the machine reads of the event).
// The reference here is xstate itself (the cache must never change an answer), on the scenarios of
// the c2s model test — legal prefixes up to every state, then random tails — and the independent
// model of test/support/c2sModel.ts for the state reached. Coverage: every state, and every
// (state, event) pair served from the cache at least once (a cache hit is what could go stale).

describe('machineStep: memoised steps on a shared inert scope behave as xstate transition()', () => {
  it(
    'same states, contexts and action lists on legal prefixes and random tails (property)',
    () => {
      const shared = new Map<number, C2SSnapshot>();
      const coverage = new Coverage([
        ...ALL_STATES.filter((st) => st !== 'closed').map((st) => `repeat-step-from:${st}`),
        ...ALL_STATES.map((st) => `state:${st}`),
      ]);
      const pairs = new Set<string>();
      fc.assert(
        fc.property(scenarioArb, ({ plan, tail }) => {
          const input = { hosts: [...HOSTS], maxAuthFailures: plan.maxAuthFailures };
          // One initial snapshot per input for every run: later runs hit what earlier runs memoised.
          let b = shared.get(plan.maxAuthFailures);
          if (b === undefined) {
            b = initialStep(input)[0];
            shared.set(plan.maxAuthFailures, b);
          }
          let [a] = initialTransition(c2sMachine, input);
          const model = new C2SModel(plan.maxAuthFailures);
          for (const name of [...legalPrefix(plan), ...tail]) {
            if (a.status === 'done') break;
            const e = EVENTS[name];
            const from = b.value as string;
            const hit = seenBefore(b, name); // the same snapshot and event again: what the memo serves
            const [na, actsA] = transition(c2sMachine, a, e);
            const [nb, actsB] = step(b, e);
            model.step(e);
            a = na;
            b = nb;
            expect(nb.value).toEqual(na.value);
            expect(nb.value).toBe(model.s.state);
            expect(nb.status).toBe(na.status);
            expect(nb.context).toEqual(na.context);
            expect(actsB.map((x) => [x.type, x.params])).toEqual(actsA.map((x) => [x.type, x.params]));
            coverage.hit(`state:${model.s.state}`);
            if (hit) {
              coverage.hit(`repeat-step-from:${from}`);
              pairs.add(`${from}|${e.type}`);
            }
          }
        }),
        { numRuns: RUNS },
      );
      console.info(
        `machineStep property coverage (${RUNS} runs): ${coverage.report()} cached-pairs=${pairs.size}`,
      );
      coverage.check(Math.ceil(RUNS / 200));
    },
    20_000 + RUNS * 10,
  );

  it('one shared initial snapshot serves interleaved connections (snapshots are immutable)', () => {
    const input = { hosts: [...HOSTS], maxAuthFailures: 2 };
    const [shared] = initialStep(input);
    const frozen = JSON.stringify({ v: shared.value, c: shared.context });
    const reached = new Coverage(['both-established', 'one-closed-other-established']);
    fc.assert(
      fc.property(
        scenarioArb,
        scenarioArb,
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (x, y, turns) => {
          const seqA = [
            ...legalPrefix({ ...x.plan, maxAuthFailures: 2, detours: x.plan.detours.slice(0, 1) }),
            ...x.tail,
          ];
          const seqB = [
            ...legalPrefix({ ...y.plan, maxAuthFailures: 2, detours: y.plan.detours.slice(0, 1) }),
            ...y.tail,
          ];
          let a = shared;
          let b = shared;
          let [refA] = initialTransition(c2sMachine, input);
          let [refB] = initialTransition(c2sMachine, input);
          let ia = 0;
          let ib = 0;
          for (const which of turns) {
            if (which && ia < seqA.length && a.status !== 'done') {
              const e = EVENTS[seqA[ia++]!];
              a = step(a, e)[0];
              refA = transition(c2sMachine, refA, e)[0];
            } else if (!which && ib < seqB.length && b.status !== 'done') {
              const e = EVENTS[seqB[ib++]!];
              b = step(b, e)[0];
              refB = transition(c2sMachine, refB, e)[0];
            }
            if (a.value === 'session_established' && b.value === 'session_established')
              reached.hit('both-established');
            if (
              (a.value === 'closed' && b.value === 'session_established') ||
              (b.value === 'closed' && a.value === 'session_established')
            )
              reached.hit('one-closed-other-established');
          }
          expect([a.value, a.context]).toEqual([refA.value, refA.context]);
          expect([b.value, b.context]).toEqual([refB.value, refB.context]);
          expect(JSON.stringify({ v: shared.value, c: shared.context })).toBe(frozen);
        },
      ),
      { numRuns: 200 },
    );
    console.info(`machineStep interleaving coverage (200 runs): ${reached.report()}`);
    reached.check(1);
  });

  it('every event of the alphabet is stepped at least once from every non-final state', () => {
    // Directed, not random: the full (state, event) table through step() and transition().
    const input = { hosts: [...HOSTS], maxAuthFailures: 2 };
    for (const target of [
      'wait_for_stream',
      'wait_for_auth',
      'authenticating',
      'wait_for_sasl_response',
      'wait_for_bind',
      'binding',
      'session_established',
    ] as const) {
      for (const name of EVENT_NAMES) {
        let [a] = initialTransition(c2sMachine, input);
        let [b] = initialStep(input);
        const prefix = legalPrefix({
          maxAuthFailures: 2,
          detours: [],
          rounds: 0,
          bindFailures: 0,
          headerAfterAuth: 'header',
          target,
        });
        for (const p of [...prefix, name]) {
          const [na, actsA] = transition(c2sMachine, a, EVENTS[p]);
          const [nb, actsB] = step(b, EVENTS[p]);
          expect(nb.value).toEqual(na.value);
          expect(nb.context).toEqual(na.context);
          expect(actsB.map((x) => x.type)).toEqual(actsA.map((x) => x.type));
          a = na;
          b = nb;
        }
      }
    }
  });
});

/** True when this snapshot was already stepped with this event (the memo's hit, for memoised events). */
function seenBefore(snapshot: C2SSnapshot, name: string): boolean {
  if (stepped.get(snapshot)?.has(name) === true) return true;
  remember(snapshot, name);
  return false;
}
const stepped = new WeakMap<C2SSnapshot, Set<string>>();
function remember(snapshot: C2SSnapshot, name: string): void {
  let set = stepped.get(snapshot);
  if (set === undefined) {
    set = new Set();
    stepped.set(snapshot, set);
  }
  set.add(name);
}
