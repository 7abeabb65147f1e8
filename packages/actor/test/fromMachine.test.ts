// xstate v5 machines as supervised-able actors (DESIGN.md "gen_statem" row).

import { describe, expect, it } from 'vitest';
import { assign, createMachine, setup } from 'xstate';
import { type ActorRef, type ActorSystem, fromMachine, type GenServer } from '../src/index.ts';
import { flush, testSystem } from './helpers.ts';

const door = setup({
  types: {
    context: {} as { opened: number },
    events: {} as { type: 'OPEN' } | { type: 'CLOSE' } | { type: 'BREAK' } | { type: 'LOCK' },
    input: {} as { opened: number },
  },
  actions: {
    explode: () => {
      throw new Error('hinge broke');
    },
  },
  delays: { autoClose: 1000 },
}).createMachine({
  context: ({ input }) => ({ opened: input.opened }),
  initial: 'closed',
  states: {
    closed: {
      on: {
        OPEN: { target: 'open', actions: assign({ opened: ({ context }) => context.opened + 1 }) },
        LOCK: 'locked',
      },
    },
    open: { on: { CLOSE: 'closed', BREAK: { actions: 'explode' } }, after: { autoClose: 'closed' } },
    locked: { type: 'final' },
  },
});

describe('fromMachine', () => {
  it('casts become events; call replies with the snapshot', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(fromMachine(door), { opened: 0 });
    system.cast(ref, { type: 'OPEN' });
    const snap = (await system.call(ref, { type: '$otp.getSnapshot' })) as {
      value: string;
      context: { opened: number };
    };
    expect(snap.value).toBe('open');
    expect(snap.context.opened).toBe(1);
  });

  it('delayed transitions run on the system clock', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn(fromMachine(door), { opened: 0 });
    system.cast(ref, { type: 'OPEN' });
    await flush();
    clock.advance(1000);
    const snap = (await system.call(ref, { type: '$otp.getSnapshot' })) as { value: string };
    expect(snap.value).toBe('closed');
  });

  it('a machine error crashes the actor with { error } so a supervisor can restart it', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(fromMachine(door), { opened: 0 });
    const exit = system.whenExit(ref);
    system.cast(ref, { type: 'OPEN' });
    system.cast(ref, { type: 'BREAK' });
    const reason = (await exit) as { error: Error };
    expect(reason.error.message).toBe('hinge broke');
  });

  it('a final state stops the actor with normal', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(fromMachine(door), { opened: 0 });
    const exit = system.whenExit(ref);
    system.cast(ref, { type: 'LOCK' });
    expect(await exit).toBe('normal');
  });

  // OTP: a process killed by `exit(Pid, kill)` or by an untrapped exit signal is gone with
  // everything it was doing, and its `terminate` does not run. The xstate actor inside must not
  // survive it: its delayed transitions (and their actions) must never fire afterwards.
  const endings: Array<{ name: string; end: (system: ActorSystem, ref: ActorRef) => Promise<void> }> = [
    { name: 'exit(ref, kill)', end: async (system, ref) => system.exit(ref, 'kill') },
    { name: 'an untrapped exit signal (shutdown)', end: async (system, ref) => system.exit(ref, 'shutdown') },
    {
      name: 'a linked actor crashing',
      end: async (system, ref) => {
        const crasher: GenServer<null, undefined, never, unknown, 'crash'> = {
          init: (_args, ctx) => {
            ctx.link(ref);
            return { ok: null };
          },
          handleCast: () => {
            throw new Error('boom');
          },
        };
        system.cast(await system.spawn(crasher, undefined), 'crash');
      },
    },
    { name: 'system.stop (terminate runs)', end: (system, ref) => system.stop(ref) },
  ];
  it.each(endings)('after $name, the machine is stopped: no delayed action fires later', async (row) => {
    const { system, clock } = testSystem();
    let fired = 0;
    const timer = createMachine({
      initial: 'waiting',
      states: {
        waiting: { after: { 1000: { target: 'fired', actions: () => fired++ } } },
        fired: {},
      },
    });
    const ref = await system.spawn(fromMachine(timer), undefined);
    const exit = system.whenExit(ref);
    await row.end(system, ref);
    await exit;
    await flush();
    clock.advance(5000);
    expect(fired).toBe(0);
    expect(clock.pending()).toBe(0);
  });
});
