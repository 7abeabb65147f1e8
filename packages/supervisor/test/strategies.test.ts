// Strategy × restart type × exit reason (`supervisor:do_restart/3` in supervisor.erl, and the
// `restart` field of a child spec).
import type { ActorRef, ActorSystem, ExitReason } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { type RestartType, type Strategy, Supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, eventLog, flush, okRef, testSystem, testWorker } from './helpers.ts';

type ReasonCase = { readonly name: string; readonly reason: ExitReason; readonly clean: boolean };

const reasons: ReasonCase[] = [
  { name: 'normal', reason: 'normal', clean: true },
  { name: 'shutdown', reason: 'shutdown', clean: true },
  { name: '{shutdown, x}', reason: { shutdown: 'x' }, clean: true },
  { name: '{exit, boom}', reason: { exit: 'boom' }, clean: false },
  { name: 'killed', reason: 'killed', clean: false },
];
const restarts: RestartType[] = ['permanent', 'transient', 'temporary'];
const strategies: Exclude<Strategy, 'simple_one_for_one'>[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

/** Ends `ref` with `reason` as the child itself would (a callback returning stop, or a kill). */
function endChild(system: ActorSystem, ref: ActorRef, reason: ExitReason): void {
  if (reason === 'killed') system.exit(ref, 'kill');
  else system.cast(ref, { stop: reason });
}

interface Row {
  readonly strategy: Strategy;
  readonly restart: RestartType;
  readonly reason: ReasonCase;
}

const rows: Row[] = [];
for (const strategy of [...strategies, 'simple_one_for_one' as const]) {
  for (const restart of restarts) for (const reason of reasons) rows.push({ strategy, restart, reason });
}

// OTP: permanent always; transient unless normal/shutdown/{shutdown,_}; temporary never.
function restartsFor(restart: RestartType, reason: ReasonCase): boolean {
  return restart === 'permanent' || (restart === 'transient' && !reason.clean);
}

describe('strategy × restart type × exit reason (supervisor strategies, do_restart/3)', () => {
  it.each(rows.filter((r) => r.strategy !== 'simple_one_for_one'))(
    '$strategy, middle child $restart, exits $reason.name',
    async ({ strategy, restart, reason }) => {
      const { system } = testSystem();
      const log = eventLog();
      const sup = okRef(
        await Supervisor.start(system, {
          strategy,
          intensity: 10,
          children: [
            worker('a', testWorker(), 'a'),
            worker('b', testWorker(), 'b', { restart }),
            worker('c', testWorker(), 'c'),
          ],
          onEvent: log.onEvent,
        }),
      );
      const before = await childrenInStartOrder(system, sup);
      const [a, b, c] = before.map((row) => row.ref as ActorRef);
      endChild(system, b!, reason.reason);
      await flush();
      const after = await childrenInStartOrder(system, sup);
      const byId = new Map(after.map((row) => [row.id, row.ref]));
      const restarted = restartsFor(restart, reason);

      expect(log.of('child_terminated')).toEqual([
        expect.objectContaining({
          id: 'b',
          ref: b,
          reason: reason.reason,
          action: restarted ? 'restart' : restart === 'temporary' ? 'remove' : 'keep',
        }),
      ]);
      if (!restarted) {
        // Nothing else happens; a temporary spec is forgotten, a transient one kept without a ref.
        expect(byId.get('a')).toBe(a);
        expect(byId.get('c')).toBe(c);
        if (restart === 'temporary') expect(byId.has('b')).toBe(false);
        else expect(byId.get('b')).toBeUndefined();
        expect(log.of('child_restarted')).toEqual([]);
        return;
      }
      const newB = byId.get('b') as ActorRef;
      expect(newB).toBeDefined();
      expect(newB.equals(b!)).toBe(false);
      expect(system.isAlive(newB)).toBe(true);
      // one_for_one: only b; one_for_all: every child; rest_for_one: b and those after it.
      const aRestarted = strategy === 'one_for_all';
      const cRestarted = strategy !== 'one_for_one';
      expect(byId.get('a') === a).toBe(!aRestarted);
      expect(byId.get('c') === c).toBe(!cRestarted);
      expect(system.isAlive(a!)).toBe(!aRestarted);
      expect(system.isAlive(c!)).toBe(!cRestarted);
      const restartedIds = log.of('child_restarted').map((e) => e.id);
      expect(restartedIds).toEqual(
        strategy === 'one_for_one' ? ['b'] : strategy === 'one_for_all' ? ['a', 'b', 'c'] : ['b', 'c'],
      );
      await system.stop(sup, 'shutdown');
      expect(system.count()).toBe(0);
    },
  );

  it.each(rows.filter((r) => r.strategy === 'simple_one_for_one'))(
    'simple_one_for_one, template $restart, a child exits $reason.name',
    async ({ restart, reason }) => {
      const { system } = testSystem();
      const started: unknown[] = [];
      const sup = okRef(
        await Supervisor.start(system, {
          strategy: 'simple_one_for_one',
          intensity: 10,
          children: [worker('conn', testWorker({ started }), 'template', { restart })],
        }),
      );
      const refs: ActorRef[] = [];
      for (let i = 0; i < 3; i++) refs.push(okRef(await Supervisor.startChild(system, sup, i)));
      endChild(system, refs[1]!, reason.reason);
      await flush();
      const counts = await Supervisor.countChildren(system, sup);
      const restarted = restartsFor(restart, reason);
      expect(counts).toEqual({
        specs: 1,
        active: restarted ? 3 : 2,
        supervisors: 0,
        workers: restarted ? 3 : 2,
      });
      const live = (await childrenInStartOrder(system, sup)).map((row) => row.ref as ActorRef);
      expect(live).toContain(refs[0]);
      expect(live).toContain(refs[2]);
      expect(live.some((r) => r.equals(refs[1]!))).toBe(false);
      expect(started.length).toBe(restarted ? 4 : 3);
      await system.stop(sup, 'shutdown');
      expect(system.count()).toBe(0);
    },
  );
});

describe('restart details', () => {
  it('one_for_all stops the siblings in reverse start order and starts all in order (supervisor:restart/2)', async () => {
    const { system } = testSystem();
    const terminated: Array<[unknown, ExitReason]> = [];
    const started: unknown[] = [];
    const w = testWorker({ trapExit: true, terminated, started });
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'one_for_all',
        children: ['a', 'b', 'c', 'd'].map((id) => worker(id, w, id)),
      }),
    );
    const [, b] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    started.length = 0;
    system.cast(b!, { stop: { exit: 'crash' } });
    await flush();
    await childrenInStartOrder(system, sup);
    expect(terminated).toEqual([
      ['b', { exit: 'crash' }],
      ['d', 'shutdown'],
      ['c', 'shutdown'],
      ['a', 'shutdown'],
    ]);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a temporary sibling is not restarted by one_for_all and its spec is forgotten (supervisor child spec restart)', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'one_for_all',
        children: [
          worker('a', testWorker(), 'a'),
          worker('tmp', testWorker(), 'tmp', { restart: 'temporary' }),
          worker('c', testWorker(), 'c'),
        ],
      }),
    );
    const [a] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    system.exit(a!, { exit: 'x' });
    await flush();
    const ids = (await childrenInStartOrder(system, sup)).map((r) => r.id);
    expect(ids).toEqual(['a', 'c']);
  });

  it('an EXIT from a process that is not a child is ignored', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, { children: [worker('a', testWorker(), 1)], onEvent: log.onEvent }),
    );
    system.exit(sup, { exit: 'stray' }); // an exit signal from outside, trapped into an EXIT with from=undefined
    await flush();
    expect(system.isAlive(sup)).toBe(true);
    expect(log.of('child_terminated')).toEqual([]);
  });
});
