import { describe, expect, it } from 'vitest';
import { andThen, isThenable, type MaybePromise } from '../src/index.ts';

/** `base` with a `then` property (defined, so that no literal object has one by accident). */
function withThen<T extends object>(base: T, then: unknown): T {
  return Object.defineProperty(base, 'then', { value: then });
}

describe('isThenable (Promises/A+ "thenable": an object or function with a then method)', () => {
  it.each<[string, unknown, boolean]>([
    ['a promise', Promise.resolve(1), true],
    ['a plain thenable object', withThen({}, () => {}), true],
    [
      'a function with a then method',
      withThen(
        () => {},
        () => {},
      ),
      true,
    ],
    ['an object whose then is not a function', withThen({}, 1), false],
    ['null', null, false],
    ['undefined', undefined, false],
    ['a number', 0, false],
    ['a string', 'then', false],
    ['a plain object', {}, false],
  ])('%s → %s', (_what, value, expected) => {
    expect(isThenable(value)).toBe(expected);
  });
});

describe('andThen', () => {
  it('applies f at once to a plain value (no promise, the result is plain)', () => {
    const calls: number[] = [];
    const r = andThen(2, (v) => {
      calls.push(v);
      return v * 3;
    });
    expect(r).toBe(6);
    expect(calls).toEqual([2]);
  });

  it('applies f after a promise settles', async () => {
    const r = andThen(Promise.resolve(2), (v) => v * 3);
    expect(isThenable(r)).toBe(true);
    expect(await r).toBe(6);
  });

  it('flattens an f that returns a promise, and passes a rejection through without calling f', async () => {
    const value: MaybePromise<number> = Promise.resolve(1);
    expect(await andThen(value, (v) => Promise.resolve(v + 1))).toBe(2);
    let called = false;
    const failed = andThen(Promise.reject(new Error('boom')) as MaybePromise<number>, () => {
      called = true;
    });
    await expect(failed).rejects.toThrow('boom');
    expect(called).toBe(false);
  });
});
