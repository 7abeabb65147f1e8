/**
 * A hook was run with more arguments than the positional runner supports
 * (`DEFAULTS.maxHookArgs`). This is a programming error, so it is thrown rather than logged.
 */
export class HookArityError extends Error {
  override readonly name = 'HookArityError' as const;
  readonly hook: string;
  readonly arity: number;
  readonly max: number;

  constructor(hook: string, arity: number, max: number) {
    super(`hook "${hook}" run with ${arity} arguments; at most ${max} are supported`);
    this.hook = hook;
    this.arity = arity;
    this.max = max;
  }
}

/** `add` / `delete` was given a `seq` that is not a finite number (ejabberd requires an integer). */
export class InvalidHookSeqError extends Error {
  override readonly name = 'InvalidHookSeqError' as const;
  readonly hook: string;
  readonly seq: number;

  constructor(hook: string, seq: number) {
    super(`hook "${hook}": seq must be a finite number, got ${seq}`);
    this.hook = hook;
    this.seq = seq;
  }
}

/** Any error `Hooks` throws itself (handler failures are logged and reported, never thrown). */
export type HookError = HookArityError | InvalidHookSeqError;
