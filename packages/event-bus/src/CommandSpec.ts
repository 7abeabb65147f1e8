import type { z } from 'zod';
import type { Caller, CommandPolicy } from './Caller.ts';

/** What a command handler gets besides its arguments. */
export interface CommandContext {
  readonly caller: Caller;
  readonly name: string;
  readonly version: number;
}

/** The arguments a handler receives: the parsed schema output, plus `user` and `host` for policy `user`. */
export type CommandHandlerArgs<A extends z.ZodObject, P extends CommandPolicy> = P extends 'user'
  ? z.output<A> & { readonly user: string; readonly host: string }
  : z.output<A>;

/**
 * The arguments a caller passes to `execute`: the schema input; for policy `user`, `user` and
 * `host` too (required of `local` / `admin` callers, injected for `user` callers).
 */
export type CommandCallArgs<A extends z.ZodObject, P extends CommandPolicy> = P extends 'user'
  ? z.input<A> & { readonly user?: string; readonly host?: string }
  : z.input<A>;

/**
 * A command (ejabberd's `#ejabberd_commands{}`): name, tags, descriptions, typed
 * arguments and result as zod schemas, policy and version. Build one with `defineCommand` to keep
 * the literal policy type.
 */
export interface CommandSpec<
  A extends z.ZodObject = z.ZodObject,
  R extends z.ZodType = z.ZodType,
  P extends CommandPolicy = CommandPolicy,
> {
  readonly name: string;
  /** @default [] (a version ≠ 0 adds the tag `v<version>`, as ejabberd does) */
  readonly tags?: readonly string[];
  /** @default '' */
  readonly description?: string;
  /** @default '' */
  readonly longDescription?: string;
  /** @default '' */
  readonly note?: string;
  /** @default `DEFAULTS.commandVersion` (0) */
  readonly version?: number;
  /** @default `DEFAULTS.commandPolicy` ('restricted', as ejabberd) */
  readonly policy?: P;
  /** Argument schema: an object; its error messages name the bad field. */
  readonly args: A;
  /** Result schema; the handler's value is parsed with it before it is returned. */
  readonly result: R;
  /** The function (ejabberd's `module:function`); may be async. */
  handler(args: CommandHandlerArgs<A, P>, context: CommandContext): z.input<R> | PromiseLike<z.input<R>>;
}

/** Any command spec. */
// biome-ignore lint/suspicious/noExplicitAny: the registry stores specs of every argument type.
export type AnyCommandSpec = CommandSpec<any, any, CommandPolicy>;

/** The `CommandMap` entry of a spec: `{ args, result }` as `execute` takes and returns them. */
export type InferCommand<S> =
  S extends CommandSpec<infer A, infer R, infer P>
    ? { args: CommandCallArgs<A, P>; result: z.output<R> }
    : never;

/**
 * Typed command names for `Commands.execute(name, …)`, declared by module augmentation:
 *
 * ```ts
 * declare module '@otp-chat/event-bus' {
 *   interface CommandMap { kick_user: InferCommand<typeof kickUser> }
 * }
 * ```
 *
 * Names not in the map can still be executed, with `unknown` arguments and result.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation.
export interface CommandMap {}

/**
 * Returns `spec` unchanged, with its types inferred (the policy as a literal, so that a `user`
 * command's handler sees `user` and `host`).
 */
export function defineCommand<
  A extends z.ZodObject,
  R extends z.ZodType,
  const P extends CommandPolicy = 'restricted',
>(spec: CommandSpec<A, R, P>): CommandSpec<A, R, P> {
  return spec;
}
