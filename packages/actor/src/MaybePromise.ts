/**
 * A value or a promise of it. What a callback, a backend or a hook handler that may answer
 * synchronously returns: the memory backend answers at once, Redis and SQL with a promise, and a
 * caller that keeps the synchronous path synchronous ({@link andThen}) pays for a promise only
 * when there is one.
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * True for a promise or any thenable: an object or a function with a `then` method, as
 * Promises/A+ defines it. On a `MaybePromise<T>` it narrows to the promise, and the other branch
 * to the plain value.
 */
export function isThenable<T>(value: MaybePromise<T>): value is Promise<T>;
export function isThenable(value: unknown): value is PromiseLike<unknown>;
export function isThenable(value: unknown): boolean {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * `f(value)` now when `value` is plain, after it settles when it is a promise: the synchronous
 * path stays synchronous (no promise, no microtask). A rejection passes through untouched. Not
 * named `then`: a module exporting `then` is itself a thenable.
 */
export function andThen<T, U>(value: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable(value) ? value.then(f) : f(value);
}
