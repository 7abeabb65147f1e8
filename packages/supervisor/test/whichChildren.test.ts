// supervisor:which_children/1's order. supervisor.erl keeps the ids of a static supervisor in
// termination order (newest first: init's specs reversed, start_child prepends) and
// which_children/1 folds over that list, so children come newest first; a restarted child keeps
// its place (its #child{} is updated in place), a deleted and re-added one moves to the front.
// A simple_one_for_one supervisor folds over a map of pids: pid order for a small map (start
// order; a restarted child has a new, higher pid and comes last).
//
// Observed in Erlang/OTP 25 (`erl`; children a, b, c in the spec list, one_for_one):
//   {which_children,[c,b,a]}
//   {after_start_child_d,[d,c,b,a]}
//   {after_b_restarted,[d,c,b,a]}                 (exit(B, kill); b restarted by the supervisor)
//   {after_c_deleted_readded,[c,d,b,a]}           (terminate_child, delete_child, start_child c)
//   {after_terminate_a,[{c,true},{d,true},{b,true},{a,false}]}
//   {after_restart_child_a,[c,d,b,a]}
// simple_one_for_one, start_child k1, k2, k3 (pids <0.103.0>, <0.104.0>, <0.105.0>):
//   {which_children,[<0.103.0>,<0.104.0>,<0.105.0>]}
//   {after_first_restarted,[<0.104.0>,<0.105.0>,<0.106.0>]}   (exit(K1, kill))
import type { ActorRef, ActorSystem } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { dynamicWorker, Supervisor, worker } from '../src/index.ts';
import { flush, okRef, testSystem, testWorker } from './helpers.ts';

type Step = (system: ActorSystem, sup: ActorRef) => Promise<void>;

async function refOf(system: ActorSystem, sup: ActorRef, id: string): Promise<ActorRef> {
  const row = (await Supervisor.whichChildren(system, sup)).find((r) => r.id === id);
  return row!.ref as ActorRef;
}

const steps: Array<{ name: string; step: Step; ids: readonly string[]; running?: readonly boolean[] }> = [
  { name: 'after init', step: async () => {}, ids: ['c', 'b', 'a'] },
  {
    name: 'after start_child d',
    step: async (system, sup) => {
      okRef(await Supervisor.startChild(system, sup, worker('d', testWorker(), 'd')));
    },
    ids: ['d', 'c', 'b', 'a'],
  },
  {
    name: 'after b crashed and was restarted',
    step: async (system, sup) => {
      system.exit(await refOf(system, sup, 'b'), 'kill');
      await flush();
    },
    ids: ['d', 'c', 'b', 'a'],
  },
  {
    name: 'after c was deleted and added again',
    step: async (system, sup) => {
      expect(await Supervisor.terminateChild(system, sup, 'c')).toBe('ok');
      expect(await Supervisor.deleteChild(system, sup, 'c')).toBe('ok');
      okRef(await Supervisor.startChild(system, sup, worker('c', testWorker(), 'c')));
    },
    ids: ['c', 'd', 'b', 'a'],
  },
  {
    name: 'after terminate_child a',
    step: async (system, sup) => {
      expect(await Supervisor.terminateChild(system, sup, 'a')).toBe('ok');
    },
    ids: ['c', 'd', 'b', 'a'],
    running: [true, true, true, false],
  },
  {
    name: 'after restart_child a',
    step: async (system, sup) => {
      okRef(await Supervisor.restartChild(system, sup, 'a'));
    },
    ids: ['c', 'd', 'b', 'a'],
  },
];

describe('whichChildren lists children newest first (supervisor:which_children/1)', () => {
  it('a static supervisor: the OTP 25 event log, step by step', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        intensity: 10,
        children: ['a', 'b', 'c'].map((id) => worker(id, testWorker(), id)),
      }),
    );
    for (const s of steps) {
      await s.step(system, sup);
      const rows = await Supervisor.whichChildren(system, sup);
      expect(
        rows.map((r) => r.id),
        s.name,
      ).toEqual(s.ids);
      const running = rows.map((r) => typeof r.ref === 'object' && system.isAlive(r.ref));
      expect(running, s.name).toEqual(s.running ?? s.ids.map(() => true));
    }
    await system.stop(sup);
  });

  it('simple_one_for_one: start order; a restarted child comes last', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'simple_one_for_one',
        intensity: 10,
        children: [dynamicWorker('k', testWorker(), (extra) => extra)],
      }),
    );
    const kids: ActorRef[] = [];
    for (const k of ['k1', 'k2', 'k3']) kids.push(okRef(await Supervisor.startChild(system, sup, k)));
    const refs = async () => (await Supervisor.whichChildren(system, sup)).map((r) => r.ref as ActorRef);
    expect(await refs()).toEqual(kids);
    system.exit(kids[0]!, 'kill');
    await flush();
    const after = await refs();
    expect(after.slice(0, 2)).toEqual([kids[1], kids[2]]);
    expect(after).toHaveLength(3);
    expect(kids).not.toContainEqual(after[2]);
    expect(await system.call(after[2]!, 'args')).toBe('k1');
    await system.stop(sup);
  });
});
