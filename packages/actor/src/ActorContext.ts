import type { ActorRef } from './ActorRef.ts';
import type { ActorSystem, ServerRef, SpawnOptions, StartResult } from './ActorSystem.ts';
import type { ExitReason } from './ExitReason.ts';
import type { From, GenServer, MonitorRef } from './GenServer.ts';
import type { Logger } from './Logger.ts';

/**
 * What a running actor can do: the BIFs a gen_server callback would call on `self()`.
 * Passed as the last argument of every callback.
 */
export interface ActorContext {
  /** This actor (`self()`). */
  readonly self: ActorRef;
  /**
   * The actor that spawned this one with `link: true`, if any. gen_server's `Parent`: an EXIT from
   * it ends a trapping actor with its reason (after `terminate`). Without a link the actor is its own
   * `Parent`, as in OTP, so an EXIT from `self` (`ctx.exit(ctx.self, reason)`) does the same.
   */
  readonly parent: ActorRef | undefined;
  readonly system: ActorSystem;
  readonly logger: Logger;

  /** Links this actor with `other` (`link/1`); linking twice has no effect. */
  link(other: ActorRef): void;
  unlink(other: ActorRef): void;
  /** Monitors `target` (`monitor(process, Pid)`); `DOWN` arrives once, at once with `noproc` if it is dead. */
  monitor(target: ServerRef): MonitorRef;
  /** Removes a monitor; a `DOWN` not yet handled stays in the mailbox unless `flush` is true. */
  demonitor(ref: MonitorRef, options?: { readonly flush?: boolean }): void;
  /** `process_flag(trap_exit, Flag)`; returns the previous value. */
  trapExit(flag: boolean): boolean;
  /** Sends an exit signal to `target` from this actor (`exit/2`). */
  exit(target: ActorRef, reason: ExitReason): void;

  call<Reply = unknown>(target: ServerRef, request: unknown, timeoutMs?: number): Promise<Reply>;
  cast(target: ServerRef, message: unknown): void;
  send(target: ServerRef, message: unknown): void;
  /** Answers a call whose `handleCall` returned `noreply` (`gen_server:reply/2`). */
  reply<R>(from: From<R>, value: R): void;

  /** Starts a child actor; `link: true` links it to this actor and makes this actor its parent. */
  start<S, A, C, R, K, I>(
    behaviour: GenServer<S, A, C, R, K, I>,
    args: A,
    options?: Omit<SpawnOptions, 'link'> & { readonly link?: boolean },
  ): Promise<StartResult>;
}
