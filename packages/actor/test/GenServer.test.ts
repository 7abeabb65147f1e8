// gen_server semantics (OTP's `gen_server` reference manual): init results, calls, casts, continue,
// deferred replies, async handlers, stop, crash isolation.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type ActorContext,
  BadReturnError,
  CallingSelfError,
  CallTimeoutError,
  DEFAULTS,
  ExitError,
  type ExitReason,
  type From,
  type GenServer,
  NoProcError,
  StartError,
} from '../src/index.ts';
import { flush, testSystem } from './helpers.ts';

const run = promisify(execFile);

type Req =
  | { readonly op: 'get' }
  | { readonly op: 'defer' }
  | { readonly op: 'stop-reply' }
  | { readonly op: 'self' };

function counter(
  log: string[] = [],
): GenServer<{ n: number; deferred: From[] }, number, Req, unknown, 'inc' | 'crash', unknown> {
  return {
    init: (n) => ({ ok: { n, deferred: [] } }),
    handleCall(req, from, s, ctx) {
      switch (req.op) {
        case 'get':
          return { reply: s.n, state: s };
        case 'defer':
          s.deferred.push(from);
          return { noreply: true, state: s };
        case 'stop-reply':
          return { stop: 'normal', reply: 'bye', state: s };
        case 'self':
          return ctx.call(ctx.self, { op: 'get' }).then(
            () => ({ reply: 'no', state: s }),
            (e: unknown) => ({ reply: (e as Error).name, state: s }),
          );
      }
    },
    handleCast(msg, s) {
      if (msg === 'crash') throw new Error('boom');
      log.push(`cast ${s.n}`);
      return { noreply: true, state: { ...s, n: s.n + 1 } };
    },
    handleInfo(msg, s, ctx: ActorContext) {
      if (msg === 'release') for (const f of s.deferred) ctx.reply(f, 'released');
      return { noreply: true, state: { ...s, deferred: [] } };
    },
    terminate(reason) {
      log.push(`terminate ${JSON.stringify(reason)}`);
    },
  };
}

describe('init results (gen_server:init/1)', () => {
  const cases: Array<{ name: string; init: () => unknown; expect: 'ok' | 'ignore' | ExitReason }> = [
    { name: '{ ok } starts', init: () => ({ ok: 1 }), expect: 'ok' },
    { name: 'async { ok } starts', init: async () => ({ ok: 1 }), expect: 'ok' },
    { name: "'ignore' gives ignore", init: () => 'ignore', expect: 'ignore' },
    { name: '{ stop } gives { error: reason }', init: () => ({ stop: 'shutdown' }), expect: 'shutdown' },
    {
      name: 'a throw gives { error: { error } }',
      init: () => {
        throw 'bad';
      },
      expect: { error: 'bad' },
    },
    {
      name: 'a rejection gives { error: { error } }',
      init: () => Promise.reject('bad'),
      expect: { error: 'bad' },
    },
  ];
  it.each(cases)('$name', async (c) => {
    const { system } = testSystem();
    const result = await system.start({ init: c.init } as GenServer<unknown, void>, undefined);
    if (c.expect === 'ok') expect(result).toHaveProperty('ok');
    else if (c.expect === 'ignore') expect(result).toBe('ignore');
    else expect(result).toEqual({ error: c.expect });
    expect(system.count()).toBe(c.expect === 'ok' ? 1 : 0);
  });

  it('an invalid init result is a BadReturnError', async () => {
    const { system } = testSystem();
    const result = await system.start({ init: () => 42 } as unknown as GenServer<unknown, void>, undefined);
    expect((result as { error: { error: unknown } }).error.error).toBeInstanceOf(BadReturnError);
  });

  it('spawn rejects with StartError carrying the reason', async () => {
    const { system } = testSystem();
    await expect(system.spawn({ init: () => ({ stop: 'shutdown' }) }, undefined)).rejects.toMatchObject({
      name: 'StartError',
      reason: 'shutdown',
    });
    await expect(system.spawn({ init: () => 'ignore' as const }, undefined)).rejects.toBeInstanceOf(
      StartError,
    );
  });

  it('a failed init of a linked actor does not signal the parent (OTP 26)', async () => {
    const { system } = testSystem();
    const parent = await system.spawn(counter(), 0);
    await system.start({ init: () => ({ stop: { error: 'x' } }) }, undefined, { link: parent });
    await flush();
    expect(system.isAlive(parent)).toBe(true);
  });

  it('{ ok, continue } runs handleContinue before any message', async () => {
    const { system } = testSystem();
    const seen: string[] = [];
    const ref = await system.spawn<string[], void, 'get', string[], never, string>(
      {
        init: () => ({ ok: [], continue: 'warm-up' }),
        handleContinue: (c, s) => {
          seen.push(`continue ${String(c)}`);
          return { noreply: true, state: s };
        },
        handleInfo: (m, s) => {
          seen.push(`info ${m}`);
          return { noreply: true, state: s };
        },
        handleCall: (_r, _f, s) => ({ reply: seen, state: s }),
      },
      undefined,
    );
    system.send(ref, 'first');
    expect(await system.call(ref, 'get')).toEqual(['continue warm-up', 'info first']);
  });
});

describe('call (gen_server:call/3)', () => {
  it('replies in order with the state after each message', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(counter(), 5);
    system.cast(ref, 'inc');
    system.cast(ref, 'inc');
    expect(await system.call(ref, { op: 'get' })).toBe(7);
  });

  it('times out with CallTimeoutError on the simulated clock, default 5000 ms, never early; a late reply is dropped', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const pending = system.call(ref, { op: 'defer' });
    let outcome: { v: unknown } | { e: unknown } | undefined;
    void pending.then(
      (v) => {
        outcome = { v };
      },
      (e: unknown) => {
        outcome = { e };
      },
    );
    await flush();
    clock.advance(5000);
    await flush();
    expect(outcome).toBeUndefined(); // never before the timeout (DEFAULTS.callTimerTickMs wheel)
    clock.advance(2 * DEFAULTS.callTimerTickMs); // and within two ticks after it
    await flush();
    expect((outcome as { e: unknown }).e).toBeInstanceOf(CallTimeoutError);
    expect((outcome as { e: CallTimeoutError }).e.timeoutMs).toBe(5000);
    // the server replies late: nothing happens, the server goes on
    system.send(ref, 'release');
    expect(await system.call(ref, { op: 'get' })).toBe(0);
  });

  it('different timeouts expire in deadline order from one shared timer', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const order: number[] = [];
    for (const t of [300, 100, 200, 100]) system.call(ref, { op: 'defer' }, t).catch(() => order.push(t));
    await flush();
    expect(clock.pending()).toBe(1);
    clock.advance(1000);
    await flush();
    expect(order).toEqual([100, 100, 200, 300]);
    expect(clock.pending()).toBe(0);
  });

  // gen_server:call cancels its own receive timeout once it has the reply: nothing outlives an
  // answered call. With the real clock the shared deadline timer is unref'd, so a script exits as
  // soon as its work is done, and ref'd again at `beforeExit` while calls still wait, so those time
  // out instead of being abandoned. Checked in a child process (the only place exit can be seen).
  it.each([
    { script: 'answeredCall.ts', prints: 'pong' },
    { script: 'unansweredCall.ts', prints: 'CallTimeoutError' },
  ])('a Node process running $script exits with "$prints"', async ({ script, prints }) => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL(`fixtures/${script}`, import.meta.url))],
      {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      },
    );
    expect(stdout.trim()).toBe(prints);
  });

  it('the ticker runs while calls wait, stops when none do, and waiting calls still time out on time', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const first = system.call(ref, { op: 'defer' }, 100);
    await flush();
    system.send(ref, 'release');
    await first;
    clock.advance(DEFAULTS.callTimerTickMs);
    expect(clock.pending()).toBe(0); // nothing waits: no timer armed
    const second = system.call(ref, { op: 'defer' }, 300).catch((e: unknown) => e);
    await flush();
    expect(clock.pending()).toBe(1);
    let settled = false;
    void second.then(() => {
      settled = true;
    });
    clock.advance(300);
    await flush();
    expect(settled).toBe(false);
    clock.advance(2 * DEFAULTS.callTimerTickMs);
    expect(await second).toBeInstanceOf(CallTimeoutError);
    expect(clock.pending()).toBe(0);
  });

  it('a thousand distinct timeouts each expire no earlier than their timeout and within two ticks of it', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const expiredAt = new Map<number, number>();
    const timeouts = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) + 1);
    for (const t of timeouts) system.call(ref, { op: 'defer' }, t).catch(() => expiredAt.set(t, clock.now()));
    await flush();
    for (let ms = 1; ms <= 1000 + 2 * DEFAULTS.callTimerTickMs; ms++) {
      clock.advance(1);
      await flush();
    }
    expect(expiredAt.size).toBe(1000);
    for (const [t, at] of expiredAt) {
      expect(at).toBeGreaterThanOrEqual(t);
      expect(at).toBeLessThanOrEqual(t + 2 * DEFAULTS.callTimerTickMs);
    }
  });

  it('a deferred reply (noreply + reply(from)) answers the caller', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const a = system.call(ref, { op: 'defer' });
    const b = system.call(ref, { op: 'defer' });
    system.send(ref, 'release');
    expect(await Promise.all([a, b])).toEqual(['released', 'released']);
  });

  it('rejects with NoProcError for a dead ref or an unknown name', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(counter(), 0);
    await system.stop(ref);
    await expect(system.call(ref, { op: 'get' })).rejects.toBeInstanceOf(NoProcError);
    await expect(system.call('nobody', { op: 'get' })).rejects.toBeInstanceOf(NoProcError);
  });

  it('rejects with ExitError and the exit reason when the server dies first', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(counter(), 0);
    const pending = system.call(ref, { op: 'defer' });
    await flush();
    system.exit(ref, 'kill');
    await expect(pending).rejects.toMatchObject({ name: 'ExitError', reason: 'killed' });
    const crashed = await system.spawn(counter(), 0);
    system.cast(crashed, 'crash');
    const err = await system.call(crashed, { op: 'get' }).catch((e: unknown) => e);
    // the crash was handled before the call: the call either found it dead or saw it die
    expect(err instanceof NoProcError || err instanceof ExitError).toBe(true);
  });

  it('{ stop, reply } replies after terminate ran', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const ref = await system.spawn(counter(log), 0);
    expect(await system.call(ref, { op: 'stop-reply' })).toBe('bye');
    expect(log).toEqual(['terminate "normal"']);
    expect(system.isAlive(ref)).toBe(false);
  });

  it('calling self is CallingSelfError, not a deadlock', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(counter(), 0);
    expect(await system.call(ref, { op: 'self' })).toBe(new CallingSelfError(ref).name);
  });
});

describe('async handlers hold the mailbox (one message at a time)', () => {
  it('messages queue behind an async handler and are handled in order', async () => {
    const { system } = testSystem();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const ref = await system.spawn<null, void, 'get', string[], string, never>(
      {
        init: () => ({ ok: null }),
        async handleCast(msg, s) {
          events.push(`start ${msg}`);
          if (msg === 'slow') await gate;
          events.push(`end ${msg}`);
          return { noreply: true, state: s };
        },
        handleCall: (_r, _f, s) => ({ reply: events, state: s }),
      },
      undefined,
    );
    system.cast(ref, 'slow');
    system.cast(ref, 'fast');
    await flush();
    expect(events).toEqual(['start slow']);
    release();
    expect(await system.call(ref, 'get')).toEqual(['start slow', 'end slow', 'start fast', 'end fast']);
  });
});

describe('crash isolation', () => {
  it('a throw or rejection in any handler crashes only that actor, with { error }, after terminate', async () => {
    const { system } = testSystem();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const log: string[] = [];
      const bystander = await system.spawn(counter(), 0);
      const thrower = await system.spawn(counter(log), 0);
      const rejecter = await system.spawn<null, void, never, never, 'go', never>(
        { init: () => ({ ok: null }), handleCast: async () => Promise.reject(new Error('async boom')) },
        undefined,
      );
      const reasons: ExitReason[] = [];
      system.onExit((_ref, reason) => reasons.push(reason));
      system.cast(thrower, 'crash');
      system.cast(rejecter, 'go');
      await flush();
      await flush();
      expect(system.isAlive(thrower)).toBe(false);
      expect(system.isAlive(rejecter)).toBe(false);
      expect(log[0]).toMatch(/^terminate \{"error":/);
      expect(reasons.map((r) => ((r as { error: Error }).error as Error).message).sort()).toEqual([
        'async boom',
        'boom',
      ]);
      expect(await system.call(bystander, { op: 'get' })).toBe(0);
      await flush();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an invalid callback result crashes with BadReturnError', async () => {
    const { system } = testSystem();
    const ref = await system.spawn<null, void, never, never, 'x', never>(
      { init: () => ({ ok: null }), handleCast: () => 'oops' as never },
      undefined,
    );
    const exit = system.whenExit(ref);
    system.cast(ref, 'x');
    const reason = (await exit) as { error: unknown };
    expect(reason.error).toBeInstanceOf(BadReturnError);
  });
});

describe('fairness', () => {
  it('a flood of messages yields to the event loop (setImmediate and I/O run meanwhile)', async () => {
    const { system } = testSystem();
    let handled = 0;
    let handledWhenImmediateRan = -1;
    const ref = await system.spawn<null, void, never, never, 'm', never>(
      {
        init: () => ({ ok: null }),
        handleCast: (_m, s) => {
          handled++;
          return { noreply: true, state: s };
        },
      },
      undefined,
    );
    const total = 200_000;
    for (let i = 0; i < total; i++) system.cast(ref, 'm');
    setImmediate(() => {
      handledWhenImmediateRan = handled;
    });
    for (let turn = 0; turn < 100_000 && handled < total; turn++) await flush();
    expect(handled, 'the flood was not drained').toBe(total);
    expect(handledWhenImmediateRan).toBeGreaterThan(0);
    expect(handledWhenImmediateRan).toBeLessThan(total);
  });

  it('two busy actors interleave instead of one running to completion', async () => {
    const { system } = testSystem();
    const trace: string[] = [];
    const make = (name: string) =>
      system.spawn<null, void, never, never, 'm', never>(
        {
          init: () => ({ ok: null }),
          handleCast: (_m, s) => {
            trace.push(name);
            return { noreply: true, state: s };
          },
        },
        undefined,
      );
    const a = await make('a');
    const b = await make('b');
    for (let i = 0; i < 1000; i++) system.cast(a, 'm');
    for (let i = 0; i < 1000; i++) system.cast(b, 'm');
    for (let turn = 0; turn < 10_000 && trace.length < 2000; turn++) await flush();
    expect(trace.length, 'the two actors did not handle their messages').toBe(2000);
    const firstB = trace.indexOf('b');
    expect(firstB).toBeGreaterThan(0);
    expect(firstB).toBeLessThan(1000);
  });
});

describe('stop (gen_server:stop/2)', () => {
  it('handles the messages already queued, then runs terminate with the reason', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const ref = await system.spawn(counter(log), 0);
    system.cast(ref, 'inc');
    system.cast(ref, 'inc');
    await system.stop(ref, 'shutdown');
    expect(log).toEqual(['cast 0', 'cast 1', 'terminate "shutdown"']);
  });

  it('an idle actor stops at once; an async terminate is awaited', async () => {
    const { system } = testSystem();
    let finished = false;
    const ref = await system.spawn<null, void, never, never, never, never>(
      {
        init: () => ({ ok: null }),
        terminate: async () => {
          await flush();
          finished = true;
        },
      },
      undefined,
    );
    await system.stop(ref);
    expect(finished).toBe(true);
    expect(system.isAlive(ref)).toBe(false);
    await expect(system.stop(ref)).rejects.toBeInstanceOf(NoProcError);
  });

  it('kill during an async terminate ends the actor at once with killed', async () => {
    const { system } = testSystem();
    const ref = await system.spawn<null, void, never, never, never, never>(
      { init: () => ({ ok: null }), terminate: () => new Promise<void>(() => {}) },
      undefined,
    );
    const stopped = system.stop(ref);
    expect(system.isAlive(ref)).toBe(true); // still in terminate
    const reasons: ExitReason[] = [];
    system.onExit((_r, reason) => reasons.push(reason));
    system.exit(ref, 'kill');
    await stopped;
    expect(reasons).toEqual(['killed']);
  });
});

describe('runtime robustness', () => {
  it('a logger that throws does not stop the scheduler: other actors keep running', async () => {
    const clock = new (await import('../src/index.ts')).SimulatedClock();
    const { ActorSystem } = await import('../src/index.ts');
    const throwing = {
      debug() {},
      info() {},
      warn() {
        throw new Error('logger down');
      },
      error() {
        throw new Error('logger down');
      },
    };
    const system = new ActorSystem({ node: 'test@local', clock, logger: throwing });
    const noisy = await system.spawn<null, void, never, never, never, string>(
      { init: () => ({ ok: null }) },
      undefined,
    );
    const steady = await system.spawn(counter(), 1);
    system.send(noisy, 'unexpected'); // no handleInfo: the runtime warns through the logger, which throws
    system.cast(steady, 'inc');
    expect(await system.call(steady, { op: 'get' })).toBe(2);
  });
});
