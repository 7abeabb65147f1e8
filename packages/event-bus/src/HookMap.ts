import type { Caller } from './Caller.ts';

/**
 * The hooks known to the type checker, declared by module augmentation. Each entry is either a
 * **run hook** `{ args: [...] }` (handlers get the arguments; see `Hooks.run`) or a **fold hook**
 * `{ acc: T; args: [...] }` (handlers get the accumulator then the arguments and return the next
 * accumulator; see `Hooks.runFold`).
 *
 * ```ts
 * declare module '@otp-chat/event-bus' {
 *   interface HookMap {
 *     remove_user: { args: [user: string, server: string] };
 *     offline_message_hook: { acc: { tag: 'bounce' | 'pass'; packet: Element }; args: [] };
 *   }
 * }
 * ```
 *
 * Fold accumulators must not be the string `'stop'` nor objects with a `stop` key: those are the
 * halt signals (as in ejabberd, where an accumulator cannot be `stop` or `{stop, _}`).
 */
export interface HookMap {
  /**
   * Run by `Commands.execute` on the global list before a command's handler (`ejabberd_commands:execute_command2/4`):
   * `(commandName, validatedArgs, caller)`.
   */
  api_call: { args: [command: string, args: Readonly<Record<string, unknown>>, caller: Caller] };
}

/** `'global'` or a virtual host name. */
export type HookHost = string;

/** The shape of one hook entry. */
export interface HookDef {
  readonly args: readonly unknown[];
  readonly acc?: unknown;
}

/** Names of the run hooks (entries without `acc`) of a hook map. */
export type RunHookName<M> = {
  [K in keyof M]: M[K] extends { acc: unknown }
    ? never
    : M[K] extends { args: readonly unknown[] }
      ? K
      : never;
}[keyof M] &
  string;

/** Names of the fold hooks (entries with `acc`) of a hook map. */
export type FoldHookName<M> = {
  [K in keyof M]: M[K] extends { acc: unknown; args: readonly unknown[] } ? K : never;
}[keyof M] &
  string;

/** The argument tuple of hook `K`. */
export type HookArgs<M, K extends keyof M> = M[K] extends { args: infer A extends readonly unknown[] }
  ? A
  : never;

/** The accumulator type of fold hook `K`. */
export type HookAcc<M, K extends keyof M> = M[K] extends { acc: infer T } ? T : never;

/** What a run handler returns: `'stop'` halts the chain, anything else (nothing) continues. */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers written `() => {}` return void.
export type RunResult = void | 'stop';

/** What a fold handler returns: the next accumulator, `'stop'` (keep the current one), or `{ stop: v }`. */
export type FoldResult<T> = T | 'stop' | { readonly stop: T };

/** A handler of a run hook; may be async. */
export type RunHandler<A extends readonly unknown[]> = (...args: A) => RunResult | PromiseLike<RunResult>;

/** A handler of a fold hook; may be async. */
export type FoldHandler<T, A extends readonly unknown[]> = (
  acc: T,
  ...args: A
) => FoldResult<T> | PromiseLike<FoldResult<T>>;

/** The handler type of hook `K` in map `M`. */
export type HookHandler<M, K extends keyof M> = M[K] extends {
  acc: infer T;
  args: infer A extends readonly unknown[];
}
  ? FoldHandler<T, A>
  : RunHandler<HookArgs<M, K>>;

/** A tracing event delivered to hook subscribers (`ejabberd_hooks:subscribe/5`). */
export type HookTraceEvent =
  | {
      readonly type: 'before';
      readonly hook: string;
      readonly host: HookHost;
      /** The arguments; for a fold, the initial accumulator first. */
      readonly args: readonly unknown[];
    }
  | {
      readonly type: 'before_callback';
      readonly hook: string;
      readonly host: HookHost;
      readonly handler: Function;
      readonly seq: number;
      /** The arguments the handler is called with; for a fold, the current accumulator first. */
      readonly args: readonly unknown[];
    }
  | {
      readonly type: 'after_callback';
      readonly hook: string;
      readonly host: HookHost;
      readonly handler: Function;
      readonly seq: number;
      readonly args: readonly unknown[];
      /** What the handler returned (settled), or `undefined` when it failed. */
      readonly result: unknown;
      /** Set when the handler threw or rejected. */
      readonly error?: unknown;
    }
  | {
      readonly type: 'after';
      readonly hook: string;
      readonly host: HookHost;
      readonly args: readonly unknown[];
      /** The fold's final accumulator (`undefined` for a run). */
      readonly result: unknown;
    };

/**
 * A hook subscriber (ejabberd's `hook_subscribe`): called with its state and each trace event of a
 * run, returns the next state. The state starts at the `initialState` given to `subscribe` at every
 * run and is threaded through that run's events. A subscriber that throws is dropped for the rest
 * of that run.
 */
export type HookSubscriber<S> = (state: S, event: HookTraceEvent) => S;
