import type { MaybePromise } from '../Backend.ts';

/** True for a promise or any thenable. */
export function isThenable<T>(value: MaybePromise<T>): value is Promise<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Applies `f` now (not named `then`: a module exporting `then` is itself a thenable) when `value` is plain, after it settles when it is a promise. */
export function andThen<T, U>(value: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable(value) ? value.then(f) : f(value);
}
