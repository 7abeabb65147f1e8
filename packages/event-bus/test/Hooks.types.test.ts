// Type tests, checked by `tsc -b packages/event-bus` (a wrong handler signature must not compile)
// and executed by vitest (so every typed call below also runs).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type FoldHookName, type HookHandler, Hooks, type RunHookName, STOP } from '../src/index.ts';

interface Packet {
  readonly to: string;
  readonly body: string;
}

// Module augmentation, exactly as a consuming package writes it.
declare module '@otp-chat/event-bus' {
  interface HookMap {
    test_remove_user: { args: [user: string, server: string] };
    test_offline_message: { acc: { tag: 'bounce' | 'pass'; packet: Packet }; args: [] };
    test_privacy_check: { acc: 'allow' | 'deny'; args: [to: string, packet: Packet, dir: 'in' | 'out'] };
  }
}

/** Type-checks `body` without running it: for the calls that must not compile. */
function typeOnly(_body: () => unknown): void {}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const packet: Packet = { to: 'a@example.com', body: 'hi' };

describe('HookMap typing (module augmentation)', () => {
  it('classifies run and fold hooks', () => {
    expectTypeOf<'test_remove_user'>().toExtend<RunHookName<import('../src/index.ts').HookMap>>();
    expectTypeOf<'api_call'>().toExtend<RunHookName<import('../src/index.ts').HookMap>>();
    expectTypeOf<'test_offline_message'>().toExtend<FoldHookName<import('../src/index.ts').HookMap>>();
    expectTypeOf<'test_remove_user'>().not.toExtend<FoldHookName<import('../src/index.ts').HookMap>>();
    expectTypeOf<
      HookHandler<import('../src/index.ts').HookMap, 'test_remove_user'>
    >().parameters.toEqualTypeOf<[user: string, server: string]>();
  });

  it('accepts well-typed handlers and runs, rejects wrong ones', async () => {
    const hooks = new Hooks({ logger: silent });
    const removed: string[] = [];

    hooks.add(
      'test_remove_user',
      'example.com',
      (user, server) => void removed.push(`${user}@${server}`),
      100,
    );
    hooks.add('test_remove_user', 'example.com', () => 'stop', 200);
    hooks.add('test_remove_user', 'example.com', async () => STOP, 300);
    typeOnly(() => {
      // @ts-expect-error wrong argument type: server is a string
      hooks.add('test_remove_user', 'example.com', (_user: string, _server: number) => {}, 100);
    });
    typeOnly(() => {
      // @ts-expect-error a run handler cannot return a value
      hooks.add('test_remove_user', 'example.com', () => 42, 100);
    });
    typeOnly(() => {
      // @ts-expect-error unknown hook name
      hooks.add('no_such_hook', 'example.com', () => {}, 100);
    });

    expectTypeOf(
      hooks.run('test_remove_user', 'example.com', 'alice', 'example.com'),
    ).toEqualTypeOf<void | Promise<void>>();
    typeOnly(() => {
      // @ts-expect-error missing argument
      hooks.run('test_remove_user', 'example.com', 'alice');
    });
    typeOnly(() => {
      // @ts-expect-error a fold hook cannot be run with run()
      hooks.run('test_offline_message', 'example.com');
    });

    hooks.add('test_offline_message', 'example.com', (acc) => ({ ...acc, tag: 'pass' as const }), 50);
    hooks.add('test_offline_message', 'example.com', (acc) => (acc.tag === 'pass' ? 'stop' : acc), 60);
    hooks.add('test_offline_message', 'example.com', (acc) => ({ stop: acc }), 70);
    typeOnly(() => {
      // @ts-expect-error the accumulator type must be kept
      hooks.add('test_offline_message', 'example.com', () => 'drop', 80);
    });
    typeOnly(() => {
      // @ts-expect-error { stop: v } must carry an accumulator
      hooks.add('test_offline_message', 'example.com', () => ({ stop: 1 }), 80);
    });

    const folded = hooks.runFold('test_offline_message', 'example.com', { tag: 'bounce', packet });
    expectTypeOf(folded).toEqualTypeOf<
      { tag: 'bounce' | 'pass'; packet: Packet } | Promise<{ tag: 'bounce' | 'pass'; packet: Packet }>
    >();
    typeOnly(() => {
      // @ts-expect-error wrong initial accumulator
      hooks.runFold('test_offline_message', 'example.com', 'bounce');
    });
    typeOnly(() => {
      // @ts-expect-error a run hook cannot be folded
      hooks.runFold('test_remove_user', 'example.com', 'alice', 'example.com');
    });

    hooks.add(
      'test_privacy_check',
      'example.com',
      (acc, _to, p, dir) => (dir === 'in' && p.body === '' ? 'deny' : acc),
      50,
    );
    typeOnly(() => {
      // @ts-expect-error dir is 'in' | 'out'
      hooks.runFold('test_privacy_check', 'example.com', 'allow', 'b@example.com', packet, 'sideways');
    });

    await hooks.run('test_remove_user', 'example.com', 'alice', 'example.com');
    expect(removed).toEqual(['alice@example.com', 'alice@example.com']);
    const verdict = await hooks.runFold('test_privacy_check', 'example.com', 'allow', 'b', packet, 'in');
    expectTypeOf(verdict).toEqualTypeOf<'allow' | 'deny'>();
    expect(verdict).toBe('allow');
  });

  it('an explicit map isolates a Hooks instance from the augmented one', () => {
    const hooks = new Hooks<{ only: { args: [n: number] } }>({ logger: silent });
    hooks.add('only', 'global', (n) => void expectTypeOf(n).toEqualTypeOf<number>(), 1);
    typeOnly(() => {
      // @ts-expect-error not in the explicit map
      hooks.add('test_remove_user', 'global', () => {}, 1);
    });
    expectTypeOf(hooks.run('only', 'global', 1)).toEqualTypeOf<void | Promise<void>>();
  });
});
