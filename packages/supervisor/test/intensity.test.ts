// Restart intensity, exactly as OTP's `supervisor:add_restart/1`: whole
// seconds of the clock, inclusive window, counted per supervisor, failed attempts count too.
import type { ActorRef, ExitReason, StartResult } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { type ChildSpec, Supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, eventLog, flush, okRef, testSystem, testWorker } from './helpers.ts';

interface Row {
  readonly name: string;
  readonly intensity: number;
  readonly period: number;
  /** Clock time (ms) of each crash. */
  readonly crashesAt: readonly number[];
  /** Index of the crash that exceeds the intensity, or undefined if the supervisor survives. */
  readonly exceededAt: number | undefined;
}

const rows: Row[] = [
  {
    name: 'defaults 1/5s: one restart is fine',
    intensity: 1,
    period: 5,
    crashesAt: [0],
    exceededAt: undefined,
  },
  {
    name: 'defaults: second within the window',
    intensity: 1,
    period: 5,
    crashesAt: [0, 1000],
    exceededAt: 1,
  },
  {
    name: 'defaults: second at exactly +5 s (inclusive edge)',
    intensity: 1,
    period: 5,
    crashesAt: [0, 5000],
    exceededAt: 1,
  },
  {
    name: 'defaults: +5.999 s is still second 5 (whole seconds)',
    intensity: 1,
    period: 5,
    crashesAt: [0, 5999],
    exceededAt: 1,
  },
  {
    name: 'defaults: +6 s is outside the window',
    intensity: 1,
    period: 5,
    crashesAt: [0, 6000],
    exceededAt: undefined,
  },
  {
    name: 'intensity 0: the first restart is too many',
    intensity: 0,
    period: 5,
    crashesAt: [0],
    exceededAt: 0,
  },
  { name: '3/1s: three in one second', intensity: 3, period: 1, crashesAt: [0, 0, 0], exceededAt: undefined },
  { name: '3/1s: four in one second', intensity: 3, period: 1, crashesAt: [0, 0, 0, 999], exceededAt: 3 },
  {
    name: '3/1s: three, then three 2 s later',
    intensity: 3,
    period: 1,
    crashesAt: [0, 0, 0, 2000, 2000, 2000],
    exceededAt: undefined,
  },
  {
    name: '3/1s: three, then one at +1 s (edge) exceeds',
    intensity: 3,
    period: 1,
    crashesAt: [0, 0, 0, 1000],
    exceededAt: 3,
  },
  {
    name: '2/10s: a sliding window',
    intensity: 2,
    period: 10,
    crashesAt: [0, 6000, 11000, 12000],
    exceededAt: 3,
  },
];

describe('restart intensity (supervisor:add_restart/1)', () => {
  it.each(rows)('$name', async (row) => {
    const { system, clock } = testSystem();
    const log = eventLog();
    const terminated: Array<[unknown, ExitReason]> = [];
    const sup = okRef(
      await Supervisor.start(system, {
        intensity: row.intensity,
        period: row.period,
        children: [
          worker('stable', testWorker({ trapExit: true, terminated }), 'stable'),
          worker('crashy', testWorker(), 'crashy'),
        ],
        onEvent: log.onEvent,
      }),
    );
    const exit = system.whenExit(sup);
    let now = 0;
    for (const [i, at] of row.crashesAt.entries()) {
      clock.advance(at - now);
      now = at;
      const crashy = (await childrenInStartOrder(system, sup))[1]!.ref as ActorRef;
      system.exit(crashy, { exit: `crash ${i}` });
      await flush();
      if (row.exceededAt === i) break;
    }
    if (row.exceededAt === undefined) {
      expect(system.isAlive(sup)).toBe(true);
      expect(log.of('intensity_exceeded')).toEqual([]);
      expect(log.of('child_restarted').length).toBe(row.crashesAt.length);
      await system.stop(sup, 'shutdown');
    } else {
      // The supervisor stops every child and exits with `shutdown`.
      expect(await exit).toBe('shutdown');
      expect(log.of('child_restarted').length).toBe(row.exceededAt);
      expect(log.of('intensity_exceeded')).toEqual([
        expect.objectContaining({ id: 'crashy', intensity: row.intensity, period: row.period }),
      ]);
      expect(terminated).toEqual([['stable', 'shutdown']]);
      expect(log.types().at(-2)).toBe('supervisor_shutdown');
    }
    expect(system.count()).toBe(0);
  });

  it('the count is per supervisor: two children crashing once each exceed 1/5s (supervisor:add_restart/1)', async () => {
    const { system } = testSystem();
    const sup = okRef(
      await Supervisor.start(system, {
        children: [worker('a', testWorker(), 'a'), worker('b', testWorker(), 'b')],
      }),
    );
    const exit = system.whenExit(sup);
    const [a, b] = (await childrenInStartOrder(system, sup)).map((r) => r.ref as ActorRef);
    system.exit(a!, { exit: 1 });
    await flush();
    expect(system.isAlive(sup)).toBe(true);
    system.exit(b!, { exit: 2 });
    expect(await exit).toBe('shutdown');
  });
});

/** A start function that succeeds the first `okStarts` times, then fails `failures` times, then succeeds. */
function flakyStart(okStarts: number, failures: number): { spec: ChildSpec; attempts: () => number } {
  let attempts = 0;
  const w = testWorker();
  return {
    attempts: () => attempts,
    spec: {
      id: 'flaky',
      start: (ctx): Promise<StartResult> | StartResult => {
        attempts++;
        if (attempts > okStarts && attempts <= okStarts + failures)
          return { error: { exit: `attempt ${attempts}` } };
        return ctx.start(w, 'flaky', { link: true });
      },
    },
  };
}

describe('failed restart attempts: try_again_restart (supervisor:restart/2)', () => {
  it('each failed attempt counts toward intensity and escalates', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const flaky = flakyStart(1, 100);
    const sup = okRef(
      await Supervisor.start(system, { intensity: 3, children: [flaky.spec], onEvent: log.onEvent }),
    );
    const exit = system.whenExit(sup);
    system.exit(okRef({ ok: (await childrenInStartOrder(system, sup))[0]!.ref }), { exit: 'crash' });
    expect(await exit).toBe('shutdown');
    // crash → attempt (1st restart) fails → try_again (2nd) fails → try_again (3rd) fails → 4th exceeds.
    expect(log.of('child_start_failed').map((e) => e.during)).toEqual(['restart', 'restart', 'restart']);
    expect(flaky.attempts()).toBe(4);
    expect(log.of('intensity_exceeded').length).toBe(1);
  });

  it('a retry that succeeds leaves a running child', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const flaky = flakyStart(1, 1);
    const sup = okRef(
      await Supervisor.start(system, { intensity: 3, children: [flaky.spec], onEvent: log.onEvent }),
    );
    const first = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    system.exit(first, { exit: 'crash' });
    await flush();
    const now = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    expect(system.isAlive(now)).toBe(true);
    expect(log.of('child_start_failed').length).toBe(1);
    expect(log.of('child_restarted')).toEqual([expect.objectContaining({ id: 'flaky', previous: first })]);
    await system.stop(sup, 'shutdown');
  });

  it('other messages interleave between attempts: a terminate_child ends the retries', async () => {
    const { system } = testSystem();
    const flaky = flakyStart(1, 1000);
    const sup = okRef(await Supervisor.start(system, { intensity: 1000, children: [flaky.spec] }));
    const first = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    system.exit(first, { exit: 'crash' });
    // Queued behind the first try_again_restart, not after a thousand of them.
    expect(await childrenInStartOrder(system, sup)).toEqual([
      { id: 'flaky', ref: 'restarting', type: 'worker' },
    ]);
    expect(await Supervisor.terminateChild(system, sup, 'flaky')).toBe('ok');
    const attempts = flaky.attempts();
    await flush();
    expect(flaky.attempts()).toBe(attempts);
    expect(await childrenInStartOrder(system, sup)).toEqual([
      { id: 'flaky', ref: undefined, type: 'worker' },
    ]);
    expect(system.isAlive(sup)).toBe(true);
    await system.stop(sup, 'shutdown');
  });
});
