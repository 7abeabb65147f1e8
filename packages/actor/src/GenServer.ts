import type { ActorContext } from './ActorContext.ts';
import type { ActorRef } from './ActorRef.ts';
import type { ExitReason } from './ExitReason.ts';
import type { MaybePromise } from './MaybePromise.ts';

/**
 * The caller of a `call`, handed to `handleCall`. Pass it to `reply(from, value)` (or
 * `ctx.reply`) to answer later after returning `{ noreply: true, state }`.
 * Opaque; replying twice or after the caller gave up is a no-op (OTP 24 aliases).
 */
export interface From<Reply = unknown> {
  readonly __reply?: (value: Reply) => void;
}

/** What `init` returns (gen_server's `{ok, S}`, `{ok, S, {continue, C}}`, `{stop, R}`, `ignore`). */
export type InitResult<State> =
  | { readonly ok: State; readonly continue?: unknown }
  | { readonly stop: ExitReason }
  | 'ignore';

/** What `handleCall` returns. */
export type CallResult<State, Reply> =
  | { readonly reply: Reply; readonly state: State; readonly continue?: unknown }
  | { readonly noreply: true; readonly state: State; readonly continue?: unknown }
  | { readonly stop: ExitReason; readonly state: State; readonly reply?: Reply };

/** What `handleCast`, `handleInfo` and `handleContinue` return. */
export type NoReplyResult<State> =
  | { readonly noreply: true; readonly state: State; readonly continue?: unknown }
  | { readonly stop: ExitReason; readonly state: State };

/**
 * The gen_server behaviour. Only `init` is required.
 *
 * Messages are handled one at a time. A callback that returns a promise holds the mailbox until it
 * settles. A callback that throws or rejects crashes the actor with `{ error }` (after `terminate`),
 * exactly as a gen_server callback that raises.
 *
 * @typeParam Args - what `spawn` passes to `init`.
 * @typeParam Call - requests accepted by `call`; @typeParam Reply - what they answer.
 * @typeParam Cast - messages accepted by `cast`; @typeParam Info - raw messages from `send`.
 */
export interface GenServer<State, Args = void, Call = never, Reply = unknown, Cast = never, Info = never> {
  init(args: Args, ctx: ActorContext): MaybePromise<InitResult<State>>;
  handleCall?(
    request: Call,
    from: From<Reply>,
    state: State,
    ctx: ActorContext,
  ): MaybePromise<CallResult<State, Reply>>;
  handleCast?(message: Cast, state: State, ctx: ActorContext): MaybePromise<NoReplyResult<State>>;
  /** Raw messages, `EXIT` (when trapping exits) and `DOWN`. The default logs and drops. */
  handleInfo?(
    message: Info | SystemInfo,
    state: State,
    ctx: ActorContext,
  ): MaybePromise<NoReplyResult<State>>;
  handleContinue?(cont: unknown, state: State, ctx: ActorContext): MaybePromise<NoReplyResult<State>>;
  /**
   * Called when a callback returns `stop`, throws, when the actor is stopped with `ActorSystem.stop`,
   * or (trapping exits only) when its parent sends an exit signal. Not called on `kill` nor when an
   * exit signal kills a non-trapping actor: as in OTP.
   */
  terminate?(reason: ExitReason, state: State, ctx: ActorContext): MaybePromise<void>;
}

/** Messages the runtime itself delivers to `handleInfo`. */
export type SystemInfo = ExitMessage | DownMessage;

/** `{'EXIT', From, Reason}`: a linked actor ended, delivered while trapping exits. */
export interface ExitMessage {
  readonly type: 'EXIT';
  readonly from: ActorRef | undefined;
  readonly reason: ExitReason;
}

/**
 * `{'DOWN', Ref, process, Pid, Reason}`: a monitored actor ended (`noproc` if it never lived).
 * When a name with no holder was monitored, `target` is a ref that never lived (OTP: `{Name, Node}`).
 */
export interface DownMessage {
  readonly type: 'DOWN';
  readonly ref: MonitorRef;
  readonly target: ActorRef;
  readonly reason: ExitReason;
}

/** The handle `monitor` returns; pass it to `demonitor`. */
export interface MonitorRef {
  readonly monitorId: number;
}

/** True for an `EXIT` message. */
export function isExitMessage(message: unknown): message is ExitMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'EXIT';
}

/** True for a `DOWN` message. */
export function isDownMessage(message: unknown): message is DownMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'DOWN';
}
