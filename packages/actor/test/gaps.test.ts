// Behaviours the mutation run (`pnpm mutate`) showed unpinned: each test names the OTP rule it
// holds the runtime to. See the issue-20 closing note for the surviving mutants they kill.
import { describe, expect, it } from 'vitest';
import {
  ActorSystem,
  BadReturnError,
  CallTimeoutError,
  DEFAULTS,
  ExitError,
  type ExitReason,
  type From,
  type GenServer,
  type Logger,
  SimulatedClock,
} from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

function gate(): { release: () => void; promise: Promise<void> } {
  let release!: () => void;
  const promise = new Promise<void>((r) => {
    release = r;
  });
  return { release, promise };
}

describe('gen_server:stop/1 waits its turn: it is a message after the one being handled', () => {
  it('an async handler in flight finishes before terminate runs', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const slow = gate();
    const ref = await system.spawn<null, void, never, never, 'slow', never>(
      {
        init: () => ({ ok: null }),
        async handleCast(_m, s) {
          log.push('handling');
          await slow.promise;
          log.push('handled');
          return { noreply: true, state: s };
        },
        terminate: (reason) => {
          log.push(`terminate ${String(reason)}`);
        },
      },
      undefined,
    );
    system.cast(ref, 'slow');
    await flush();
    const stopped = system.stop(ref, 'shutdown');
    await flush();
    expect(system.isAlive(ref)).toBe(true);
    expect(log).toEqual(['handling']);
    slow.release();
    await stopped;
    expect(log).toEqual(['handling', 'handled', 'terminate shutdown']);
  });
});

describe('a callback the behaviour does not define (gen_server: undef is a crash, info is logged)', () => {
  const bare: GenServer<null, void, 'q', unknown, 'c', unknown> = { init: () => ({ ok: null }) };

  it('a call without handleCall crashes the server; the caller gets ExitError with BadReturnError', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(bare, undefined);
    const error = await system.call(ref, 'q').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExitError);
    expect(((error as ExitError).reason as { error: unknown }).error).toBeInstanceOf(BadReturnError);
    expect(system.isAlive(ref)).toBe(false);
  });

  it('a cast without handleCast crashes the server with BadReturnError', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(bare, undefined);
    const exit = system.whenExit(ref);
    system.cast(ref, 'c');
    expect(((await exit) as { error: unknown }).error).toBeInstanceOf(BadReturnError);
  });

  it('a message without handleInfo is logged and dropped; the server lives on', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (_o: object, msg?: string) => void warnings.push(msg ?? ''),
      error() {},
    };
    const system = new ActorSystem({ node: 'gaps@test', clock: new SimulatedClock(), logger });
    const ref = await system.spawn<null, void, 'q', string, never, never>(
      { init: () => ({ ok: null }), handleCall: (_r, _f, s) => ({ reply: 'alive', state: s }) },
      undefined,
    );
    system.send(ref, 'stray');
    expect(await system.call(ref, 'q')).toBe('alive');
    expect(warnings).toEqual(['unexpected message dropped']);
  });

  it('{ continue } without handleContinue crashes the server with BadReturnError', async () => {
    const { system } = testSystem();
    const ref = await system.spawn<null, void, never, never, 'c', never>(
      { init: () => ({ ok: null }), handleCast: (_m, s) => ({ noreply: true, state: s, continue: 'x' }) },
      undefined,
    );
    const exit = system.whenExit(ref);
    system.cast(ref, 'c');
    expect(((await exit) as { error: unknown }).error).toBeInstanceOf(BadReturnError);
  });
});

describe('{ continue } from any callback runs handleContinue before the next message (OTP 21)', () => {
  it.each(['handleCall', 'handleCast', 'handleInfo'] as const)('from %s', async (from) => {
    const { system } = testSystem();
    const seen: string[] = [];
    const ref = await system.spawn<string[], void, 'go' | 'get', unknown, 'go', 'go' | 'next'>(
      {
        init: () => ({ ok: [] }),
        handleCall(req, _f, s) {
          if (req === 'get') return { reply: seen, state: s };
          seen.push('call');
          return { reply: 'ok', state: s, ...(from === 'handleCall' ? { continue: 'c' } : {}) };
        },
        handleCast(_m, s) {
          seen.push('cast');
          return { noreply: true, state: s, ...(from === 'handleCast' ? { continue: 'c' } : {}) };
        },
        handleInfo(m, s) {
          seen.push(`info ${m}`);
          return {
            noreply: true,
            state: s,
            ...(from === 'handleInfo' && m === 'go' ? { continue: 'c' } : {}),
          };
        },
        handleContinue(c, s) {
          seen.push(`continue ${String(c)}`);
          return { noreply: true, state: s };
        },
      },
      undefined,
    );
    if (from === 'handleCall') void system.call(ref, 'go');
    else if (from === 'handleCast') system.cast(ref, 'go');
    else system.send(ref, 'go');
    system.send(ref, 'next');
    const first = from === 'handleCall' ? 'call' : from === 'handleCast' ? 'cast' : 'info go';
    expect(await system.call(ref, 'get')).toEqual([first, 'continue c', 'info next']);
  });
});

describe('calls between actors', () => {
  it('an actor calls another from its handler and gets the reply (gen_server:call inside a callback)', async () => {
    const { system } = testSystem();
    const echo = await system.spawn<null, void, string, string, never, never>(
      { init: () => ({ ok: null }), handleCall: (r, _f, s) => ({ reply: `echo ${r}`, state: s }) },
      undefined,
    );
    const asker = await system.spawn<null, void, string, string, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall: async (r, _f, s, ctx) => ({ reply: await ctx.call<string>(echo, r), state: s }),
      },
      undefined,
    );
    expect(await system.call(asker, 'hi')).toBe('echo hi');
  });

  it('a handleCall that throws synchronously fails its caller with ExitError { error }', async () => {
    const { system } = testSystem();
    const ref = await system.spawn<null, void, 'boom', never, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall: () => {
          throw new Error('sync boom');
        },
      },
      undefined,
    );
    const error = (await system
      .call(ref, 'boom', Number.POSITIVE_INFINITY)
      .catch((e: unknown) => e)) as ExitError;
    expect(error).toBeInstanceOf(ExitError);
    expect(((error.reason as { error: Error }).error as Error).message).toBe('sync boom');
  });

  it('a reply after the timeout, twice, or after the caller gave up leaves later calls timing out on time', async () => {
    const { system, clock } = testSystem();
    const froms: From[] = [];
    const ref = await system.spawn<null, void, 'defer' | 'answer-all', unknown, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall(req, from, s, ctx) {
          if (req === 'defer') {
            froms.push(from);
            return { noreply: true, state: s };
          }
          for (const f of froms) {
            ctx.reply(f, 'late');
            ctx.reply(f, 'twice');
          }
          return { reply: 'ok', state: s };
        },
      },
      undefined,
    );
    const first = system.call(ref, 'defer', 100).catch((e: unknown) => e);
    await flush();
    clock.advance(100 + 2 * DEFAULTS.callTimerTickMs);
    expect(await first).toBeInstanceOf(CallTimeoutError);
    expect(await system.call(ref, 'answer-all')).toBe('ok'); // late and double replies: dropped
    // The deadline accounting must still be right: a new waiting call times out.
    let outcome: unknown;
    void system.call(ref, 'defer', 100).catch((e: unknown) => {
      outcome = e;
    });
    for (let step = 0; step < 30 && outcome === undefined; step++) {
      clock.advance(DEFAULTS.callTimerTickMs);
      await flush();
    }
    expect(outcome).toBeInstanceOf(CallTimeoutError);
  });
});

describe('call timeouts beyond the timer wheel (about 10 s) and after many answered calls', () => {
  it('calls of 15 s, 30 s and 61 s expire no earlier than their timeout and within two ticks of it', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn<null, void, 'defer', never, never, never>(
      { init: () => ({ ok: null }), handleCall: (_r, _f, s) => ({ noreply: true, state: s }) },
      undefined,
    );
    const expiredAt = new Map<number, number>();
    for (const t of [15_000, 30_000, 61_000, 900]) {
      system.call(ref, 'defer', t).catch(() => expiredAt.set(t, clock.now()));
    }
    await flush();
    const tick = DEFAULTS.callTimerTickMs;
    for (let ms = 0; ms <= 61_000 + 2 * tick && expiredAt.size < 4; ms += tick) {
      clock.advance(tick);
      for (let i = 0; i < 3; i++) await Promise.resolve();
    }
    expect([...expiredAt.keys()].sort((a, b) => a - b)).toEqual([900, 15_000, 30_000, 61_000]);
    for (const [t, at] of expiredAt) {
      expect(at).toBeGreaterThanOrEqual(t);
      expect(at).toBeLessThanOrEqual(t + 2 * tick);
    }
  });

  it('10,000 calls answered at once do not disturb one that waits (the slot sweep)', async () => {
    const { system, clock } = testSystem();
    const ref = await system.spawn<null, void, 'ping' | 'defer', string, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall: (r, _f, s) => (r === 'ping' ? { reply: 'pong', state: s } : { noreply: true, state: s }),
      },
      undefined,
    );
    let waiting: unknown;
    system.call(ref, 'defer', 500).catch((e: unknown) => {
      waiting = e;
    });
    const answers = await Promise.all(Array.from({ length: 10_000 }, () => system.call(ref, 'ping', 500)));
    expect(answers.every((a) => a === 'pong')).toBe(true);
    clock.advance(499);
    await flush();
    expect(waiting).toBeUndefined();
    clock.advance(1 + 2 * DEFAULTS.callTimerTickMs);
    await flush();
    expect(waiting).toBeInstanceOf(CallTimeoutError);
  });
});

describe('the scheduler (round robin, budgets; BEAM: reductions)', () => {
  it('500 runnable actors: served round robin, one message each per turn, in the order they became runnable', async () => {
    const clock = new SimulatedClock();
    const system = new ActorSystem({
      node: 'gaps@test',
      clock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      drainBudget: { perActor: 1 },
    });
    const trace: string[] = [];
    const refs = [];
    for (let i = 0; i < 500; i++) {
      refs.push(
        await system.spawn<null, number, never, never, string, never>(
          {
            init: () => ({ ok: null }),
            handleCast: (m, s) => {
              trace.push(m);
              return { noreply: true, state: s };
            },
          },
          i,
        ),
      );
    }
    // The run queue outgrows its first ring (64) while it is being drained.
    for (let i = 0; i < 500; i++) system.cast(refs[i]!, `${i}:1`);
    for (let i = 0; i < 500; i++) system.cast(refs[i]!, `${i}:2`);
    for (let turn = 0; turn < 100 && trace.length < 1000; turn++) await flush();
    expect(trace).toEqual([
      ...Array.from({ length: 500 }, (_, i) => `${i}:1`),
      ...Array.from({ length: 500 }, (_, i) => `${i}:2`),
    ]);
  });

  it('a drain stops after its message budget and lets the event loop run', async () => {
    const system = new ActorSystem({
      node: 'gaps@test',
      clock: new SimulatedClock(),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      drainBudget: { messages: 1000, ms: 1e9, perActor: 128 },
    });
    let handled = 0;
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
    for (let i = 0; i < 5000; i++) system.cast(ref, 'm');
    const atImmediate = await new Promise<number>((resolve) => setImmediate(() => resolve(handled)));
    // The budget is checked every 256 messages: the first yield comes at 1000 to 1255.
    expect(atImmediate).toBeGreaterThanOrEqual(1000);
    expect(atImmediate).toBeLessThan(1000 + 256);
    for (let turn = 0; turn < 100 && handled < 5000; turn++) await flush();
    expect(handled).toBe(5000);
  });
});

describe('exits', () => {
  it('a trapping actor running an async terminate ignores the exit of a linked actor (OTP: the EXIT becomes a message never read)', async () => {
    const { system } = testSystem();
    const finish = gate();
    const reasons: ExitReason[] = [];
    system.onExit((_ref, reason) => reasons.push(reason));
    const ref = await system.spawn<null, void, never, never, never, never>(
      {
        init: (_a, ctx) => {
          ctx.trapExit(true);
          return { ok: null };
        },
        terminate: () => finish.promise,
      },
      undefined,
    );
    const partner = await system.spawn(probe(), undefined);
    system.link(ref, partner);
    const stopped = system.stop(ref, 'shutdown');
    await flush();
    system.exit(partner, { exit: 'partner died' });
    await flush();
    expect(system.isAlive(ref)).toBe(true); // still in terminate: the partner's exit is ignored
    finish.release();
    await stopped;
    expect(await system.whenExit(ref)).toBe('noproc');
    expect(reasons).toEqual([{ exit: 'partner died' }, 'shutdown']);
  });

  it('every waiter on one actor learns its exit reason', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(probe(), undefined);
    const waits = [system.whenExit(ref), system.whenExit(ref), system.whenExit(ref)];
    system.exit(ref, { exit: 'done' });
    expect(await Promise.all(waits)).toEqual([{ exit: 'done' }, { exit: 'done' }, { exit: 'done' }]);
  });

  it('a crash spreads through a chain of 20,000 links without deepening the stack', async () => {
    const { system } = testSystem();
    const refs = [];
    for (let i = 0; i < 20_000; i++) refs.push(await system.spawn(probe(), undefined));
    for (let i = 1; i < refs.length; i++) system.link(refs[i - 1]!, refs[i]!);
    system.exit(refs[0]!, { exit: 'first' });
    expect(system.count()).toBe(0);
  });

  it('abnormal exits are logged with the registered name; every exit reaches every listener, even after one throws', async () => {
    const errors: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (obj: object, msg?: string) => void errors.push({ obj: obj as Record<string, unknown>, msg }),
    };
    const system = new ActorSystem({ node: 'gaps@test', clock: new SimulatedClock(), logger });
    const seen: Array<[string | undefined, ExitReason]> = [];
    system.onExit(() => {
      throw new Error('listener bug');
    });
    system.onExit((_ref, reason, name) => seen.push([name, reason]));
    const named = await system.spawn(probe(), undefined, { name: 'worker' });
    const anonymous = await system.spawn(probe(), undefined);
    await system.stop(named, 'shutdown');
    system.exit(anonymous, { exit: 'crash' });
    expect(seen).toEqual([
      ['worker', 'shutdown'],
      [undefined, { exit: 'crash' }],
    ]);
    const abnormal = errors.filter((e) => e.msg === 'actor exited abnormally');
    expect(abnormal.map((e) => [e.obj.name, e.obj.reason])).toEqual([[undefined, { exit: 'crash' }]]);
    expect(errors.filter((e) => e.msg === 'exit listener threw')).toHaveLength(2);
  });
});
