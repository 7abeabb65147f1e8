// Management API (`supervisor:start_child/2`, `terminate_child/2`, `restart_child/2`, `delete_child/2`,
// `which_children/1`, `count_children/1`), child spec and flag validation (`supervisor:check_childspecs/1`),
// `auto_shutdown` (OTP 24), the backoff extension.
import type { ActorRef, ExitReason, Logger } from '@otp-chat/actor';
import { ActorSystem, SimulatedClock } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import {
  type AutoShutdown,
  type ChildSpec,
  checkChildSpec,
  dynamicWorker,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  Supervisor,
  type SupervisorSpec,
  worker,
} from '../src/index.ts';
import { childrenInStartOrder, eventLog, flush, okRef, testSystem, testWorker } from './helpers.ts';

describe('static management API (supervisor:start_child/2, terminate_child/2, restart_child/2, delete_child/2)', () => {
  it('startChild / terminateChild / restartChild / deleteChild follow OTP replies', async () => {
    const { system } = testSystem();
    const sup = okRef(await Supervisor.start(system, { children: [worker('a', testWorker(), 'a')] }));
    const b = okRef(await Supervisor.startChild(system, sup, worker('b', testWorker(), 'b')));
    expect(await Supervisor.startChild(system, sup, worker('b', testWorker(), 'b'))).toEqual({
      error: { alreadyStarted: b },
    });
    expect(await Supervisor.restartChild(system, sup, 'b')).toEqual({ error: 'running' });
    expect(await Supervisor.deleteChild(system, sup, 'b')).toEqual({ error: 'running' });
    expect(await Supervisor.terminateChild(system, sup, 'b')).toBe('ok');
    expect(system.isAlive(b)).toBe(false);
    expect(await Supervisor.startChild(system, sup, worker('b', testWorker(), 'b'))).toEqual({
      error: 'already_present',
    });
    const b2 = okRef(await Supervisor.restartChild(system, sup, 'b'));
    expect(b2.equals(b)).toBe(false);
    expect(await Supervisor.terminateChild(system, sup, 'b')).toBe('ok');
    expect(await Supervisor.deleteChild(system, sup, 'b')).toBe('ok');
    expect(await childrenInStartOrder(system, sup)).toEqual([
      { id: 'a', ref: expect.anything(), type: 'worker' },
    ]);
    for (const call of [
      Supervisor.terminateChild(system, sup, 'zz'),
      Supervisor.restartChild(system, sup, 'zz'),
      Supervisor.deleteChild(system, sup, 'zz'),
      Supervisor.getChildSpec(system, sup, 'zz'),
    ]) {
      expect(await call).toEqual({ error: 'not_found' });
    }
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 1,
      active: 1,
      supervisors: 0,
      workers: 1,
    });
    await system.stop(sup);
  });

  it('a terminated temporary child loses its spec', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        children: [worker('t', testWorker(), 't', { restart: 'temporary' })],
      }),
    );
    expect(await Supervisor.terminateChild(system, sup, 't')).toBe('ok');
    expect(await childrenInStartOrder(system, sup)).toEqual([]);
    await system.stop(sup);
  });

  it('startChild with a failing start reports { startFailed } and emits child_start_failed', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const sup = okRef(await Supervisor.start(system, { children: [], onEvent: log.onEvent }));
    const bad = testWorker({ initResult: () => ({ stop: { exit: 'nope' } }) });
    expect(await Supervisor.startChild(system, sup, worker('x', bad, 0))).toEqual({
      error: { startFailed: { exit: 'nope' } },
    });
    expect(log.of('child_start_failed')).toEqual([
      expect.objectContaining({ id: 'x', during: 'start_child' }),
    ]);
    expect(await childrenInStartOrder(system, sup)).toEqual([]);
    await system.stop(sup);
  });

  it('startChild rejects an invalid spec with a typed error naming the field', async () => {
    const { system } = testSystem();
    const sup = okRef(await Supervisor.start(system, { children: [] }));
    const bad = { ...worker('x', testWorker(), 0), shutdown: -1 };
    await expect(Supervisor.startChild(system, sup, bad)).rejects.toMatchObject({
      name: 'InvalidChildSpecError',
      field: 'shutdown',
      childId: 'x',
    });
    await system.stop(sup);
  });

  it('listeners added at run time get events until removed', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, { intensity: 5, children: [worker('a', testWorker(), 'a')] }),
    );
    const seen: string[] = [];
    const remove = await Supervisor.addListener(system, sup, (e) => seen.push(e.type));
    system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 1 });
    await flush();
    await remove();
    system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 2 });
    await flush();
    expect(seen).toEqual(['child_terminated', 'child_started', 'child_restarted']);
    await system.stop(sup);
  });
});

describe('simple_one_for_one (supervisor strategies)', () => {
  it('startChild passes extra args; id-based calls answer simple_one_for_one', async () => {
    const { system } = testSystem();
    const started: unknown[] = [];
    const template = dynamicWorker('conn', testWorker({ started }), (extra) => ({ socket: extra }));
    const sup = okRef(
      await Supervisor.start(system, { strategy: 'simple_one_for_one', children: [template] }),
    );
    expect(await childrenInStartOrder(system, sup)).toEqual([]); // no child at init
    const c1 = okRef(await Supervisor.startChild(system, sup, 7));
    expect(started).toEqual([{ socket: 7 }]);
    expect(await system.call(c1, 'args')).toEqual({ socket: 7 });
    expect(await Supervisor.terminateChild(system, sup, 'conn')).toEqual({ error: 'simple_one_for_one' });
    expect(await Supervisor.restartChild(system, sup, 'conn')).toEqual({ error: 'simple_one_for_one' });
    expect(await Supervisor.deleteChild(system, sup, 'conn')).toEqual({ error: 'simple_one_for_one' });
    expect(await childrenInStartOrder(system, sup)).toEqual([{ id: undefined, ref: c1, type: 'worker' }]);
    expect(await Supervisor.terminateChild(system, sup, c1)).toBe('ok');
    expect(system.isAlive(c1)).toBe(false);
    expect(await Supervisor.terminateChild(system, sup, c1)).toBe('ok'); // a dead pid: OTP answers ok
    expect(await Supervisor.terminateChild(system, sup, sup)).toEqual({ error: 'not_found' }); // alive, not a child
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 1,
      active: 0,
      supervisors: 0,
      workers: 0,
    });
    await system.stop(sup);
  });

  it('starts and stops 10k children; the stop is parallel under one shared timer', async () => {
    const { system, clock } = testSystem();
    const terminated: Array<[unknown, ExitReason]> = [];
    const sup = okRef(
      await Supervisor.start(system, {
        strategy: 'simple_one_for_one',
        children: [
          dynamicWorker('w', testWorker({ trapExit: true, terminated }), (n) => n, { shutdown: 1000 }),
        ],
      }),
    );
    const refs: ActorRef[] = [];
    for (let i = 0; i < 10_000; i++) refs.push(okRef(await Supervisor.startChild(system, sup, i)));
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 1,
      active: 10_000,
      supervisors: 0,
      workers: 10_000,
    });
    system.cast(refs[1234]!, 'hang'); // one child will not stop by itself
    await flush();
    const stopped = system.stop(sup, 'shutdown');
    // The scheduler yields to the event loop between batches: let it drain (no clock moves).
    for (let i = 0; i < 1000 && terminated.length < 9_999; i++) await flush();
    expect(terminated.length).toBe(9_999); // all others stopped without waiting for each other
    expect(system.isAlive(refs[1234]!)).toBe(true);
    clock.advance(1000);
    await stopped;
    expect(await system.whenExit(refs[1234]!)).toBe('noproc');
    expect(system.count()).toBe(0);
    expect(clock.pending()).toBe(0);
  });
});

describe('child spec validation (check_childspec): a typed error naming the field', () => {
  const good = worker('ok', testWorker(), 0);
  const rows: Array<{ name: string; spec: unknown; field: string; autoShutdown?: AutoShutdown }> = [
    { name: 'not an object', spec: 42, field: 'spec' },
    { name: 'missing id', spec: { ...good, id: undefined }, field: 'id' },
    { name: 'empty id', spec: { ...good, id: '' }, field: 'id' },
    { name: 'start not a function', spec: { ...good, start: 'm:f' }, field: 'start' },
    { name: 'bad restart', spec: { ...good, restart: 'sometimes' }, field: 'restart' },
    { name: 'bad type', spec: { ...good, type: 'daemon' }, field: 'type' },
    { name: 'negative shutdown', spec: { ...good, shutdown: -5 }, field: 'shutdown' },
    { name: 'fractional shutdown', spec: { ...good, shutdown: 1.5 }, field: 'shutdown' },
    { name: 'bad shutdown word', spec: { ...good, shutdown: 'never' }, field: 'shutdown' },
    { name: 'significant not boolean', spec: { ...good, significant: 'yes' }, field: 'significant' },
    {
      name: 'significant + permanent',
      spec: { ...good, significant: true },
      field: 'significant',
      autoShutdown: 'any_significant',
    },
    {
      name: 'significant + autoShutdown never',
      spec: { ...good, restart: 'transient', significant: true },
      field: 'significant',
    },
  ];
  it.each(rows)('$name → $field', (row) => {
    let thrown: unknown;
    try {
      checkChildSpec(row.spec, row.autoShutdown);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidChildSpecError);
    expect((thrown as InvalidChildSpecError).field).toBe(row.field);
  });

  it('defaults: permanent, worker 5000 ms, supervisor infinity, not significant', () => {
    expect(checkChildSpec(good)).toMatchObject({
      restart: 'permanent',
      type: 'worker',
      shutdown: 5000,
      significant: false,
    });
    expect(checkChildSpec({ ...good, type: 'supervisor' })).toMatchObject({ shutdown: 'infinity' });
  });

  it('duplicate ids and bad flags are rejected by Supervisor.start', () => {
    const { system } = testSystem();
    const flagRows: Array<[SupervisorSpec, string]> = [
      [{ strategy: 'one_for_many' as never, children: [] }, 'strategy'],
      [{ intensity: -1, children: [] }, 'intensity'],
      [{ period: 0, children: [] }, 'period'],
      [{ autoShutdown: 'sometimes' as never, children: [] }, 'autoShutdown'],
      [{ strategy: 'simple_one_for_one', children: [] }, 'children'],
      [{ backoff: { factor: 0.5 }, children: [] }, 'backoff'],
    ];
    for (const [spec, field] of flagRows) {
      expect(() => Supervisor.start(system, spec)).toThrow(InvalidSupervisorFlagsError);
      try {
        Supervisor.start(system, spec);
      } catch (error) {
        expect((error as InvalidSupervisorFlagsError).field).toBe(field);
      }
    }
    const dup: ChildSpec[] = [good, good];
    expect(() => Supervisor.start(system, { children: dup })).toThrow(/duplicate child id/);
  });
});

describe('autoShutdown (supervisor auto_shutdown, OTP 24)', () => {
  const sig = (id: string) => worker(id, testWorker(), id, { restart: 'transient', significant: true });

  it('any_significant: a significant child ending normally stops the supervisor', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        autoShutdown: 'any_significant',
        children: [worker('plain', testWorker(), 0), sig('s1'), sig('s2')],
        onEvent: log.onEvent,
      }),
    );
    const exit = system.whenExit(sup);
    const s1 = (await childrenInStartOrder(system, sup))[1]!.ref as ActorRef;
    system.cast(s1, { stop: 'normal' });
    expect(await exit).toBe('shutdown');
    expect(log.of('auto_shutdown')).toEqual([expect.objectContaining({ id: 's1' })]);
    expect(system.count()).toBe(0);
  });

  it('all_significant: only when the last significant child ends; terminateChild does not count', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        autoShutdown: 'all_significant',
        children: [sig('s1'), sig('s2'), sig('s3')],
      }),
    );
    const [s1, s2] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    expect(await Supervisor.terminateChild(system, sup, 's3')).toBe('ok');
    system.cast(s1!, { stop: 'normal' });
    await flush();
    expect(system.isAlive(sup)).toBe(true);
    const exit = system.whenExit(sup);
    system.cast(s2!, { stop: { shutdown: 'done' } });
    expect(await exit).toBe('shutdown');
  });

  // supervisor.erl do_auto_shutdown/2 (all_significant): a child counts as active while its pid is
  // not `undefined`, and `{restarting, OldPid}` is not `undefined`. So a significant child whose
  // restart is pending keeps the supervisor up when another significant child ends.
  it.each([
    { name: 'a failed restart awaiting try_again_restart', backoff: false },
    { name: 'a restart delayed by the backoff extension', backoff: true },
  ])('all_significant: a significant child in restart ($name) still counts as active', async (row) => {
    const { system, clock } = testSystem();
    let attempts = 0;
    let s2: ActorRef | undefined;
    const flaky: ChildSpec = {
      id: 's1',
      restart: 'transient',
      significant: true,
      start: async (ctx) => {
        attempts++;
        if (attempts === 2 && !row.backoff) {
          // s2 ends normally while s1's restart is failing: its EXIT is queued before try_again.
          await system.stop(s2!);
          return { error: { exit: 'not yet' } };
        }
        return ctx.start(testWorker(), 's1', { link: true });
      },
    };
    const sup = okRef(
      await Supervisor.start(system, {
        autoShutdown: 'all_significant',
        intensity: 10,
        children: [flaky, sig('s2')],
        ...(row.backoff ? { backoff: { initialMs: 1000 } } : {}),
      }),
    );
    const [s1] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    s2 = (await childrenInStartOrder(system, sup))[1]!.ref as ActorRef;
    system.exit(s1!, { exit: 'crash' });
    await flush();
    if (row.backoff) {
      expect((await childrenInStartOrder(system, sup))[0]!.ref).toBe('restarting');
      system.cast(s2, { stop: 'normal' });
      await flush();
      expect(system.isAlive(sup)).toBe(true);
      clock.advance(1000);
    }
    await flush();
    expect(system.isAlive(sup)).toBe(true);
    const rows = await childrenInStartOrder(system, sup);
    expect(rows.map((r) => r.id)).toEqual(['s1', 's2']);
    expect(rows[0]!.ref).toSatisfy((ref) => typeof ref === 'object' && system.isAlive(ref as ActorRef));
    expect(rows[1]!.ref).toBeUndefined();
    // Now the last significant child ends by itself: the supervisor shuts down.
    const exit = system.whenExit(sup);
    system.cast(rows[0]!.ref as ActorRef, { stop: 'normal' });
    expect(await exit).toBe('shutdown');
  });

  it('a significant transient child that crashes is restarted, not a shutdown trigger', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, { autoShutdown: 'any_significant', children: [sig('s1')] }),
    );
    system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 'crash' });
    await flush();
    expect(system.isAlive(sup)).toBe(true);
    await system.stop(sup);
  });
});

describe('restart backoff (an extension, not OTP; off by default)', () => {
  it('delays each restart on the clock, shows the child as restarting, and leaks no timer on stop', async () => {
    const { system, clock } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        intensity: 10,
        period: 60,
        backoff: { initialMs: 100, factor: 2, maxMs: 300 },
        children: [worker('a', testWorker(), 'a')],
        onEvent: log.onEvent,
      }),
    );
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: i });
      await flush();
      const delay = log.of('restart_delayed').at(-1)!.delayMs;
      delays.push(delay);
      expect(await childrenInStartOrder(system, sup)).toEqual([
        { id: 'a', ref: 'restarting', type: 'worker' },
      ]);
      clock.advance(delay - 1);
      await flush();
      expect((await childrenInStartOrder(system, sup))[0]!.ref).toBe('restarting');
      clock.advance(1);
      await flush();
      expect(system.isAlive((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef)).toBe(true);
    }
    expect(delays).toEqual([100, 200, 300, 300]);
    system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 'last' });
    await flush();
    expect(clock.pending()).toBe(1);
    await system.stop(sup);
    expect(clock.pending()).toBe(0);
  });

  it('without backoff a restart is immediate (OTP)', async () => {
    const { system, clock } = testSystem();
    const sup = okRef(await Supervisor.start(system, { children: [worker('a', testWorker(), 'a')] }));
    system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 1 });
    await flush();
    expect(system.isAlive((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef)).toBe(true);
    expect(clock.pending()).toBe(0);
    await system.stop(sup);
  });
});

describe("crash loops are visible (as OTP's supervisor reports): every restart and exhaustion is logged", () => {
  it('logs child_terminated as error, child_restarted as warn, intensity as error', async () => {
    const { lines, logger } = captureLog();
    const system = new ActorSystem({ clock: new SimulatedClock(), logger });
    const sup = okRef(
      await Supervisor.start(system, { label: 'loop', children: [worker('a', testWorker(), 'a')] }),
    );
    const exit = system.whenExit(sup);
    for (let i = 0; i < 2; i++) {
      system.exit((await childrenInStartOrder(system, sup))[0]!.ref as ActorRef, { exit: 'crash' });
      await flush();
    }
    await exit;
    const messages = lines
      .filter(([, , o]) => (o as { name?: string }).name === 'loop')
      .map(([l, m]) => `${l} ${m}`);
    expect(messages).toEqual([
      'debug child started',
      'error child terminated',
      'debug child started',
      'warn child restarted',
      'error child terminated',
      'error reached max restart intensity',
      'info supervisor shutting down',
    ]);
  });
});

describe('routine exits stay quiet, as OTP reports only abnormal ones', () => {
  it('a temporary child ending normally is logged at debug, never info or above', async () => {
    const { lines, logger } = captureLog();
    const system = new ActorSystem({ clock: new SimulatedClock(), logger });
    const sup = okRef(
      await Supervisor.start(system, {
        label: 'quiet',
        children: [worker('t', testWorker(), 't', { restart: 'temporary' })],
      }),
    );
    const child = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    await system.stop(child, 'normal');
    await flush();
    const messages = lines
      .filter(([, , o]) => (o as { name?: string }).name === 'quiet')
      .map(([l, m]) => `${l} ${m}`);
    expect(messages).toEqual(['debug child started', 'debug child terminated']);
  });
});

/** A logger that records `[level, message, fields]` for each line. */
function captureLog(): { lines: Array<[string, string | undefined, object]>; logger: Logger } {
  const lines: Array<[string, string | undefined, object]> = [];
  const logger: Logger = {
    debug: (o, m) => lines.push(['debug', m, o]),
    info: (o, m) => lines.push(['info', m, o]),
    warn: (o, m) => lines.push(['warn', m, o]),
    error: (o, m) => lines.push(['error', m, o]),
  };
  return { lines, logger };
}
