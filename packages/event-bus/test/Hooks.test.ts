import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/EventBus.ts';
import { HookArityError, InvalidHookSeqError } from '../src/HookError.ts';
import type { HookTraceEvent } from '../src/HookMap.ts';
import { Hooks, STOP } from '../src/Hooks.ts';

/** An explicit hook map: these tests do not depend on any augmentation. */
interface TestHooks {
  ping: { args: [log: string[]] };
  two: { args: [a: number, b: number] };
  many: { args: [number, number, number, number, number, number] };
  fold: { acc: number; args: [x: number] };
  fold0: { acc: string[]; args: [] };
  foldMany: { acc: number[]; args: [number, number, number, number, number, number] };
}

interface LogRecord {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger() {
  const records: LogRecord[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      records.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { records, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function setup() {
  const { records, logger } = recordingLogger();
  const events = new EventBus();
  const failures: unknown[] = [];
  events.on('hook_handler_failed', (e) => failures.push(e));
  const hooks = new Hooks<TestHooks>({ logger, events });
  return { hooks, records, failures };
}

const tag =
  (name: string) =>
  (log: string[]): void => {
    log.push(name);
  };

describe('Hooks ordering and identity (ejabberd_hooks:add/5: sorted by seq, then module, then function)', () => {
  it('runs handlers in ascending seq, equal seq in insertion order', () => {
    const { hooks } = setup();
    const [a, b, c, d] = [tag('a'), tag('b'), tag('c'), tag('d')];
    hooks.add('ping', 'h', c, 50);
    hooks.add('ping', 'h', a, 10);
    hooks.add('ping', 'h', d, 50);
    hooks.add('ping', 'h', b, 20);
    const log: string[] = [];
    expect(hooks.run('ping', 'h', log)).toBeUndefined();
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect(hooks.handlers('ping', 'h').map((r) => r.seq)).toEqual([10, 20, 50, 50]);
  });

  it.each([
    { case: 'identical (fn, seq) twice is a no-op', seqs: [10, 10], added: [true, false], runs: 1 },
    {
      case: 'same fn with another seq is a second registration',
      seqs: [10, 20],
      added: [true, true],
      runs: 2,
    },
  ])('$case', ({ seqs, added, runs }) => {
    const { hooks } = setup();
    const fn = tag('x');
    expect(seqs.map((s) => hooks.add('ping', 'h', fn, s))).toEqual(added);
    const log: string[] = [];
    hooks.run('ping', 'h', log);
    expect(log).toHaveLength(runs);
  });

  it('delete needs the exact (fn, seq) and removes one registration', () => {
    const { hooks } = setup();
    const fn = tag('x');
    hooks.add('ping', 'h', fn, 10);
    hooks.add('ping', 'h', fn, 20);
    expect(hooks.delete('ping', 'h', fn, 30)).toBe(false);
    expect(hooks.delete('ping', 'other', fn, 10)).toBe(false);
    expect(hooks.delete('ping', 'h', fn, 10)).toBe(true);
    expect(hooks.handlers('ping', 'h').map((r) => r.seq)).toEqual([20]);
    expect(hooks.delete('ping', 'h', fn, 20)).toBe(true);
    expect(hooks.handlers('ping', 'h')).toEqual([]);
  });

  it('registered lists every (hook, host) with handlers, sorted, in run order; emptied ones drop out', () => {
    const { hooks } = setup();
    const [a, b, c] = [tag('a'), tag('b'), tag('c')];
    hooks.add('two', 'h', () => {}, 5);
    hooks.add('ping', 'z', c, 1);
    hooks.add('ping', 'h', b, 20);
    hooks.add('ping', 'h', a, 10);
    hooks.subscribe('fold', 'h', (s: number) => s, 0); // a subscriber alone is no handler
    expect(hooks.registered().map((r) => [r.hook, r.host, r.handlers.map((x) => x.seq)])).toEqual([
      ['ping', 'h', [10, 20]],
      ['ping', 'z', [1]],
      ['two', 'h', [5]],
    ]);
    expect(hooks.registered()[0]!.handlers.map((x) => x.handler)).toEqual([a, b]);
    hooks.delete('ping', 'z', c, 1);
    expect(hooks.registered().map((r) => `${r.hook}@${r.host}`)).toEqual(['ping@h', 'two@h']);
  });

  it('a deleted then re-added handler goes after the others of its seq', () => {
    const { hooks } = setup();
    const [a, b] = [tag('a'), tag('b')];
    hooks.add('ping', 'h', a, 10);
    hooks.add('ping', 'h', b, 10);
    hooks.delete('ping', 'h', a, 10);
    hooks.add('ping', 'h', a, 10);
    const log: string[] = [];
    hooks.run('ping', 'h', log);
    expect(log).toEqual(['b', 'a']);
  });

  it('rejects a seq that is not finite', () => {
    const { hooks } = setup();
    expect(() => hooks.add('ping', 'h', tag('a'), Number.NaN)).toThrow(InvalidHookSeqError);
  });

  it('add / delete during a run affect the next run only (snapshot, as ETS)', () => {
    const { hooks } = setup();
    const late = tag('late');
    const adder = (log: string[]): void => {
      log.push('adder');
      hooks.add('ping', 'h', late, 100);
    };
    hooks.add('ping', 'h', adder, 10);
    const first: string[] = [];
    hooks.run('ping', 'h', first);
    expect(first).toEqual(['adder']);
    const second: string[] = [];
    hooks.run('ping', 'h', second);
    expect(second).toEqual(['adder', 'late']);
  });
});

describe('Hooks host lists (ejabberd_hooks:run/3: per host vs global)', () => {
  it.each([
    { runOn: 'a.example', expected: ['host-a'] },
    { runOn: 'b.example', expected: [] },
    { runOn: 'global', expected: ['global'] },
  ])('run on $runOn sees only its own list', ({ runOn, expected }) => {
    const { hooks } = setup();
    hooks.add('ping', 'a.example', tag('host-a'), 50);
    hooks.add('ping', 'global', tag('global'), 50);
    const log: string[] = [];
    hooks.run('ping', runOn, log);
    expect(log).toEqual(expected);
  });

  it('has(hook, host) is true exactly when its own list (handlers or subscribers) is non-empty', () => {
    const { hooks } = setup();
    const h = tag('x');
    const sub = (state: number) => state;
    expect(hooks.has('ping', 'a.example')).toBe(false);
    hooks.add('ping', 'a.example', h, 50);
    // A run caches the last host looked up: has must agree before and after it.
    for (const afterRun of [false, true]) {
      if (afterRun) hooks.run('ping', 'a.example', []);
      expect(hooks.has('ping', 'a.example')).toBe(true);
      expect(hooks.has('ping', 'b.example')).toBe(false);
      expect(hooks.has('ping', 'global')).toBe(false); // no fallback between host and global lists
      expect(hooks.has('two', 'a.example')).toBe(false);
    }
    hooks.delete('ping', 'a.example', h, 50);
    expect(hooks.has('ping', 'a.example')).toBe(false);
    hooks.subscribe('ping', 'a.example', sub, 0);
    expect(hooks.has('ping', 'a.example')).toBe(true);
    hooks.unsubscribe('ping', 'a.example', sub);
    hooks.run('ping', 'a.example', []);
    expect(hooks.has('ping', 'a.example')).toBe(false);
  });

  it('a hook nobody registered: run returns undefined, runFold the initial value', () => {
    const { hooks } = setup();
    expect(hooks.run('ping', 'h', [])).toBeUndefined();
    expect(hooks.runFold('fold', 'h', 7, 1)).toBe(7);
  });
});

describe('Hooks return handling (ejabberd_hooks:run/3, run_fold/4: stop and {stop, V})', () => {
  it("run: 'stop' halts the chain, other values continue", () => {
    const { hooks } = setup();
    hooks.add('ping', 'h', tag('a'), 10);
    hooks.add(
      'ping',
      'h',
      (log) => {
        log.push('stopper');
        return 'stop';
      },
      20,
    );
    hooks.add('ping', 'h', tag('never'), 30);
    const log: string[] = [];
    hooks.run('ping', 'h', log);
    expect(log).toEqual(['a', 'stopper']);
  });

  const plus = (acc: number, x: number) => acc + x;
  const times10 = (acc: number) => acc * 10;
  it.each([
    { case: 'values thread through', handlers: [plus, times10], expected: 30 },
    {
      case: "'stop' halts with the current accumulator",
      handlers: [plus, () => 'stop' as const, times10],
      expected: 3,
    },
    { case: '{ stop: v } halts with v', handlers: [plus, () => ({ stop: 99 }), times10], expected: 99 },
    { case: '{ stop: v } as first handler', handlers: [() => ({ stop: -1 }), plus], expected: -1 },
  ])('runFold: $case', ({ handlers, expected }) => {
    const { hooks } = setup();
    handlers.forEach((h, i) => {
      hooks.add('fold', 'h', h, i);
    });
    expect(hooks.runFold('fold', 'h', 1, 2)).toBe(expected);
  });

  it('passes 0 to 6 arguments positionally, without padding', () => {
    const { hooks } = setup();
    const seen: unknown[][] = [];
    hooks.add(
      'fold0',
      'h',
      (...xs) => {
        seen.push(xs);
        return xs[0];
      },
      1,
    );
    hooks.add(
      'many',
      'h',
      (...xs) => {
        seen.push(xs);
      },
      1,
    );
    hooks.add(
      'foldMany',
      'h',
      (acc, ...xs) => {
        seen.push(xs);
        return [...acc, ...xs];
      },
      1,
    );
    expect(hooks.runFold('fold0', 'h', ['x'])).toEqual(['x']);
    hooks.run('many', 'h', 1, 2, 3, 4, 5, 6);
    expect(hooks.runFold('foldMany', 'h', [0], 1, 2, 3, 4, 5, 6)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen).toEqual([[['x']], [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]]);
  });

  it('more arguments than DEFAULTS.maxHookArgs is a HookArityError', () => {
    const { hooks } = setup();
    hooks.add('many', 'h', () => {}, 1);
    const untyped = hooks as unknown as { run(...xs: unknown[]): unknown };
    expect(() => untyped.run('many', 'h', 1, 2, 3, 4, 5, 6, 7)).toThrow(HookArityError);
  });
});

describe('Hooks crashing handlers (ejabberd_hooks: safe_apply)', () => {
  it('run: a throwing handler is logged, reported and skipped', () => {
    const { hooks, records, failures } = setup();
    const boom = new Error('boom');
    function exploding(): void {
      throw boom;
    }
    hooks.add('ping', 'h', tag('a'), 10);
    hooks.add('ping', 'h', exploding, 20);
    hooks.add('ping', 'h', tag('b'), 30);
    const log: string[] = [];
    hooks.run('ping', 'h', log);
    expect(log).toEqual(['a', 'b']);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: 'error',
      obj: { hook: 'ping', host: 'h', seq: 20, handler: 'exploding', err: boom },
    });
    expect(records[0]!.msg).toContain('ping');
    expect(failures).toEqual([
      { hook: 'ping', host: 'h', seq: 20, handler: exploding, handlerName: 'exploding', error: boom },
    ]);
  });

  it('runFold: continues with the unchanged accumulator', () => {
    const { hooks, failures } = setup();
    hooks.add('fold', 'h', (acc, x) => acc + x, 10);
    hooks.add(
      'fold',
      'h',
      () => {
        throw new Error('bad');
      },
      20,
    );
    hooks.add('fold', 'h', (acc) => acc * 2, 30);
    expect(hooks.runFold('fold', 'h', 1, 1)).toBe(4);
    expect(failures).toHaveLength(1);
  });

  it('async: a rejecting handler is skipped and the fold continues unchanged', async () => {
    const { hooks, failures } = setup();
    hooks.add('fold', 'h', async (acc, x) => acc + x, 10);
    hooks.add('fold', 'h', () => Promise.reject(new Error('nope')), 20);
    hooks.add('fold', 'h', (acc) => acc * 2, 30);
    const out = hooks.runFold('fold', 'h', 1, 1);
    expect(out).toBeInstanceOf(Promise);
    await expect(out).resolves.toBe(4);
    expect(failures).toHaveLength(1);
  });
});

describe('Hooks sync and async handlers', () => {
  it('all-sync runs return plain values, never a promise', () => {
    const { hooks } = setup();
    hooks.add('fold', 'h', (acc, x) => acc + x, 1);
    hooks.add('fold', 'h', (acc, x) => acc + x, 2);
    hooks.add('ping', 'h', tag('a'), 1);
    expect(hooks.runFold('fold', 'h', 0, 5)).toBe(10);
    expect(hooks.run('ping', 'h', [])).toBeUndefined();
  });

  it('continues asynchronously from the first thenable, in order', async () => {
    const { hooks } = setup();
    const log: string[] = [];
    hooks.add('ping', 'h', tag('sync1'), 1);
    hooks.add(
      'ping',
      'h',
      async (l) => {
        await Promise.resolve();
        l.push('async');
      },
      2,
    );
    hooks.add('ping', 'h', tag('sync2'), 3);
    hooks.add(
      'ping',
      'h',
      async () => {
        await Promise.resolve();
        return STOP;
      },
      4,
    );
    hooks.add('ping', 'h', tag('never'), 5);
    const r = hooks.run('ping', 'h', log);
    expect(log).toEqual(['sync1']);
    await r;
    expect(log).toEqual(['sync1', 'async', 'sync2']);
  });

  it.each([
    { case: 'async value', second: async (acc: number) => acc + 10, expected: 24 },
    { case: "async 'stop'", second: async () => 'stop' as const, expected: 2 },
    { case: 'async { stop: v }', second: async () => ({ stop: 5 }), expected: 5 },
  ])('runFold with $case', async ({ second, expected }) => {
    const { hooks } = setup();
    hooks.add('fold', 'h', (acc, x) => acc + x, 1);
    hooks.add('fold', 'h', second, 2);
    hooks.add('fold', 'h', (acc) => acc * 2, 3);
    await expect(hooks.runFold('fold', 'h', 1, 1)).resolves.toBe(expected);
  });
});

describe('Hooks subscribers (ejabberd_hooks:subscribe/5)', () => {
  it('trace before / before_callback / after_callback / after with threaded state', () => {
    const { hooks } = setup();
    const add1 = (acc: number) => acc + 1;
    hooks.add('fold', 'h', add1, 10);
    const states: number[] = [];
    const events: HookTraceEvent['type'][] = [];
    const sub = (state: number, e: HookTraceEvent): number => {
      states.push(state);
      events.push(e.type);
      return state + 1;
    };
    hooks.subscribe('fold', 'h', sub, 100);
    expect(hooks.runFold('fold', 'h', 1, 0)).toBe(2);
    expect(events).toEqual(['before', 'before_callback', 'after_callback', 'after']);
    expect(states).toEqual([100, 101, 102, 103]);
    // State restarts at the initial value for every run.
    hooks.runFold('fold', 'h', 1, 0);
    expect(states.slice(4)).toEqual([100, 101, 102, 103]);
  });

  it('reports results and errors, and a crashing subscriber is dropped for the rest of the run', () => {
    const { hooks, records } = setup();
    const failing = () => {
      throw new Error('x');
    };
    hooks.add('fold', 'h', failing, 10);
    hooks.add('fold', 'h', (acc) => ({ stop: acc + 5 }), 20);
    const seen: HookTraceEvent[] = [];
    let calls = 0;
    hooks.subscribe(
      'fold',
      'h',
      (s: null, e) => {
        seen.push(e);
        return s;
      },
      null,
    );
    hooks.subscribe(
      'fold',
      'h',
      (_s: null) => {
        calls++;
        throw new Error('sub');
      },
      null,
    );
    expect(hooks.runFold('fold', 'h', 1, 0)).toBe(6);
    expect(calls).toBe(1);
    expect(records.map((r) => r.level)).toEqual(['warn', 'error']);
    const afterCallbacks = seen.filter((e) => e.type === 'after_callback');
    expect(afterCallbacks.map((e) => ('error' in e ? 'error' : e.result))).toEqual(['error', { stop: 6 }]);
    expect(seen.at(-1)).toMatchObject({ type: 'after', result: 6 });
  });

  it('traces async handlers too, and unsubscribe turns tracing off', async () => {
    const { hooks } = setup();
    hooks.add('fold', 'h', async (acc) => acc + 1, 10);
    const types: string[] = [];
    const sub = (s: null, e: HookTraceEvent) => {
      types.push(e.type);
      return s;
    };
    hooks.subscribe('fold', 'h', sub, null);
    await expect(hooks.runFold('fold', 'h', 1, 0)).resolves.toBe(2);
    expect(types).toEqual(['before', 'before_callback', 'after_callback', 'after']);
    expect(hooks.unsubscribe('fold', 'h', sub)).toBe(true);
    await hooks.runFold('fold', 'h', 1, 0);
    expect(types).toHaveLength(4);
  });
});

describe('Hooks against a reference model (property)', () => {
  type Op = { kind: 'add' | 'delete'; fn: number; seq: number; host: 'a' | 'b' };
  const op = fc.record({
    kind: fc.constantFrom<'add' | 'delete'>('add', 'delete'),
    fn: fc.integer({ min: 0, max: 3 }),
    seq: fc.integer({ min: 0, max: 3 }),
    host: fc.constantFrom<'a' | 'b'>('a', 'b'),
  });

  it('run order equals the model: registrations sorted by (seq, first insertion)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops: Op[]) => {
        const { hooks } = setup();
        const fns = [0, 1, 2, 3].map((i) => (log: string[]): void => {
          log.push(String(i));
        });
        // Model: per host an ordered list of {fn, seq, order}.
        const model = {
          a: [] as { fn: number; seq: number; order: number }[],
          b: [] as { fn: number; seq: number; order: number }[],
        };
        let order = 0;
        for (const o of ops) {
          const list = model[o.host];
          const idx = list.findIndex((r) => r.fn === o.fn && r.seq === o.seq);
          if (o.kind === 'add') {
            expect(hooks.add('ping', o.host, fns[o.fn]!, o.seq)).toBe(idx < 0);
            if (idx < 0) list.push({ fn: o.fn, seq: o.seq, order: order++ });
          } else {
            expect(hooks.delete('ping', o.host, fns[o.fn]!, o.seq)).toBe(idx >= 0);
            if (idx >= 0) list.splice(idx, 1);
          }
          for (const host of ['a', 'b'] as const) {
            const expected = [...model[host]]
              .sort((x, y) => x.seq - y.seq || x.order - y.order)
              .map((r) => String(r.fn));
            const log: string[] = [];
            hooks.run('ping', host, log);
            expect(log).toEqual(expected);
          }
        }
      }),
    );
  });
});
