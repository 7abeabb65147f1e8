/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** True for a promise-like value. */
export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** `value` then `fn`, synchronously when `value` is not a promise (keeps the memory path sync). */
export function andThen<T, U>(value: MaybePromise<T>, fn: (v: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable<T>(value) ? Promise.resolve(value).then(fn) : fn(value as T);
}
