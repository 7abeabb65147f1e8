// Behaviours the mutation run (`pnpm mutate`) showed unpinned in SupervisorServer, each against
// the supervisor.erl function it mirrors.
import type { ActorRef, GenServer } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { dynamicWorker, Supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, eventLog, flush, okRef, testSystem, testWorker } from './helpers.ts';

describe('one_for_all restart (restart/3 with terminate_children/2 of the others)', () => {
  it('stops the siblings in reverse start order (not the child that died), then starts all in order', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'one_for_all',
        intensity: 5,
        onEvent: log.onEvent,
        children: ['a', 'b', 'c'].map((id) => worker(id, testWorker(), id)),
      }),
    );
    const [, b] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    log.events.length = 0;
    system.exit(b!, { exit: 'crash' });
    await flush();
    expect(log.events.map((e) => `${e.type} ${'id' in e ? e.id : ''}`)).toEqual([
      'child_terminated b',
      'child_stopped c',
      'child_stopped a',
      'child_started a',
      'child_restarted a',
      'child_started b',
      'child_restarted b',
      'child_started c',
      'child_restarted c',
    ]);
    await system.stop(sup);
  });

  it('a sibling whose restart fails is marked restarting and tried again ({try_again_restart, Id})', async () => {
    const { system } = testSystem();
    let cStarts = 0;
    const flaky = testWorker({
      initResult: () => (++cStarts === 2 ? { stop: { exit: 'not yet' } } : undefined),
    });
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'one_for_all',
        intensity: 5,
        onEvent: log.onEvent,
        children: [worker('a', testWorker(), 'a'), worker('c', flaky, 'c')],
      }),
    );
    const [a] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    system.exit(a!, { exit: 'crash' });
    await flush();
    await flush();
    expect(log.of('child_start_failed').map((e) => [e.id, e.during])).toEqual([['c', 'restart']]);
    const rows = await childrenInStartOrder(system, sup);
    expect(rows.map((r) => r.id)).toEqual(['a', 'c']);
    expect(rows.every((r) => typeof r.ref === 'object' && system.isAlive(r.ref))).toBe(true);
    expect(cStarts).toBe(3);
    await system.stop(sup);
  });
});

describe('restart_child of a child whose start returns ignore', () => {
  it('answers { ok: undefined }, emits no child_started, and keeps the spec without a ref', async () => {
    const { system } = testSystem();
    let ignoreNext = false;
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        onEvent: log.onEvent,
        children: [worker('a', testWorker({ initResult: () => (ignoreNext ? 'ignore' : undefined) }), 'a')],
      }),
    );
    expect(await Supervisor.terminateChild(system, sup, 'a')).toBe('ok');
    ignoreNext = true;
    log.events.length = 0;
    expect(await Supervisor.restartChild(system, sup, 'a')).toEqual({ ok: undefined });
    expect(log.of('child_started')).toEqual([]);
    expect(await Supervisor.whichChildren(system, sup)).toEqual([
      { id: 'a', ref: undefined, type: 'worker' },
    ]);
    await system.stop(sup);
  });
});

describe('auto_shutdown counts significant children only (do_auto_shutdown/2)', () => {
  it.each(['any_significant', 'all_significant'] as const)(
    '%s: a transient, non-significant child ending normally does not stop the supervisor',
    async (mode) => {
      const { system } = testSystem();
      const sup = okRef(
        await Supervisor.start(system, {
          autoShutdown: mode,
          children: [
            worker('sig', testWorker(), 'sig', { restart: 'transient', significant: true }),
            worker('plain', testWorker(), 'plain', { restart: 'transient' }),
          ],
        }),
      );
      const plain = (await Supervisor.whichChildren(system, sup)).find((r) => r.id === 'plain')!
        .ref as ActorRef;
      system.cast(plain, { stop: 'normal' });
      await flush();
      expect(system.isAlive(sup)).toBe(true);
      await system.stop(sup);
    },
  );
});

describe('simple_one_for_one shutdown (terminate_dynamic_children/1)', () => {
  /**
   * A pool whose children are started with `extras`: a child started with 'stuck' never ends its
   * terminate; one started with 'slow' holds the supervisor in start_child until `release()`.
   */
  async function pool(extras: readonly string[]) {
    const { system, clock } = testSystem();
    const log = eventLog();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const conn: GenServer<unknown, unknown, never, never, never, never> = {
      init: (args) => (args === 'slow' ? held.then(() => ({ ok: args })) : { ok: args }),
      terminate: (_reason, state) => (state === 'stuck' ? new Promise<void>(() => {}) : undefined),
    };
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'simple_one_for_one',
        onEvent: log.onEvent,
        children: [dynamicWorker('conn', conn, (extra) => extra, { trapExit: true, shutdown: 100 })],
      }),
    );
    const refs: ActorRef[] = [];
    for (const extra of extras) refs.push(okRef(await Supervisor.startChild(system, sup, extra)));
    return { system, clock, log, sup, refs, release };
  }

  it('reports a shutdown error for the child that had to be killed, and only for it', async () => {
    const { system, clock, log, sup, refs } = await pool(['one', 'stuck', 'two']);
    const stopped = system.stop(sup);
    await flush();
    clock.advance(100);
    await stopped;
    expect(log.of('child_shutdown_error').map((e) => [e.ref, e.reason])).toEqual([[refs[1], 'killed']]);
    expect(refs.every((r) => !system.isAlive(r))).toBe(true);
  });

  it('a child that died before its EXIT was read is taken as noproc; the others are reported against their own refs', async () => {
    const { system, clock, log, sup, refs, release } = await pool(['one', 'gone', 'stuck']);
    // While the supervisor is busy starting 'slow', it is asked to stop, then 'gone' dies: the
    // stop is read first, with 'gone' dead and still among its children (its EXIT unread).
    const slow = Supervisor.startChild(system, sup, 'slow');
    await flush();
    const stopped = system.stop(sup);
    system.exit(refs[1]!, 'kill');
    await flush();
    expect(system.isAlive(refs[1]!)).toBe(false);
    release();
    await flush();
    clock.advance(100);
    await stopped;
    await slow;
    expect(log.of('child_shutdown_error').map((e) => [e.ref, e.reason])).toEqual([[refs[2], 'killed']]);
    expect(refs.every((r) => !system.isAlive(r))).toBe(true);
  });
});

describe('failed starts (do_start_child_i, {try_again_restart, Id} for dynamic children)', () => {
  it('simple_one_for_one: a restart that fails is retried with the same start arguments; restarting is not active', async () => {
    const { system } = testSystem();
    let failNext = false;
    const started: unknown[] = [];
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'simple_one_for_one',
        intensity: 5,
        onEvent: log.onEvent,
        children: [
          dynamicWorker(
            'conn',
            testWorker({
              started,
              initResult: () => {
                if (!failNext) return undefined;
                failNext = false;
                return { stop: { exit: 'not yet' } };
              },
            }),
            (extra) => extra,
          ),
        ],
      }),
    );
    const first = okRef(await Supervisor.startChild(system, sup, 'socket-7'));
    failNext = true;
    system.exit(first, { exit: 'crash' });
    await flush();
    await flush();
    expect(log.of('child_start_failed').map((e) => e.during)).toEqual(['restart']);
    expect(started).toEqual(['socket-7', 'socket-7', 'socket-7']);
    const rows = await Supervisor.whichChildren(system, sup);
    expect(rows).toHaveLength(1);
    expect(system.isAlive(rows[0]!.ref as ActorRef)).toBe(true);
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 1,
      active: 1,
      supervisors: 0,
      workers: 1,
    });
    await system.stop(sup);
  });

  it('startChild on simple_one_for_one and restartChild report a failed start as { startFailed }', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const refuse = testWorker({ initResult: () => ({ stop: { exit: 'no' } }) });
    const pool = okRef(
      await Supervisor.start(system, {
        strategy: 'simple_one_for_one',
        onEvent: log.onEvent,
        children: [dynamicWorker('conn', refuse, (extra) => extra)],
      }),
    );
    expect(await Supervisor.startChild(system, pool, 1)).toEqual({ error: { startFailed: { exit: 'no' } } });
    expect(await Supervisor.whichChildren(system, pool)).toEqual([]);
    let refuseNow = false;
    const sup = okRef(
      await Supervisor.start(system, {
        onEvent: log.onEvent,
        children: [
          worker(
            'a',
            testWorker({ initResult: () => (refuseNow ? { stop: { exit: 'no' } } : undefined) }),
            'a',
          ),
        ],
      }),
    );
    expect(await Supervisor.terminateChild(system, sup, 'a')).toBe('ok');
    refuseNow = true;
    expect(await Supervisor.restartChild(system, sup, 'a')).toEqual({
      error: { startFailed: { exit: 'no' } },
    });
    expect(log.of('child_start_failed').map((e) => e.during)).toEqual(['start_child', 'restart_child']);
    expect(await Supervisor.whichChildren(system, sup)).toEqual([
      { id: 'a', ref: undefined, type: 'worker' },
    ]);
    await system.stop(sup);
    await system.stop(pool);
  });
});

describe('restart intensity over many restarts (add_restart/3)', () => {
  it('1,100 restarts in one window are counted exactly, and the window empties when the period has passed', async () => {
    const { system, clock } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        intensity: 5000,
        period: 5,
        onEvent: log.onEvent,
        children: [worker('a', testWorker(), 'a')],
      }),
    );
    const crash = async () => {
      system.exit((await Supervisor.whichChildren(system, sup))[0]!.ref as ActorRef, { exit: 'crash' });
      await flush();
      return log.of('child_restarted').at(-1)!.restartsInWindow;
    };
    for (let i = 1; i < 1100; i++) await crash();
    expect(await crash()).toBe(1100);
    clock.advance(6000);
    expect(await crash()).toBe(1);
    expect(await crash()).toBe(2);
    await system.stop(sup);
  });
});
