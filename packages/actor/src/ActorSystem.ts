import { type ActorRef, isActorRef } from './ActorRef.ts';
import { type Clock, systemClock } from './Clock.ts';
import { CodecRegistry } from './Codecs.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import type { Distribution, DistributionPort } from './Distribution.ts';
import type { ExitReason } from './ExitReason.ts';
import { NoProcError, StartError } from './errors.ts';
import type { GenServer } from './GenServer.ts';
import { type ExitListener, Kernel } from './internal/Kernel.ts';
import { Process, type ProcessStatus } from './internal/Process.ts';
import { type DrainBudget, Scheduler } from './internal/Scheduler.ts';
import { defaultLogger, type Logger, moduleLogger } from './Logger.ts';
import { type ActorName, Registry, type ViaRegistry } from './Registry.ts';

const RESOLVED: Promise<void> = Promise.resolve();

/** Anything `call`, `cast` and `send` accept: a ref, a local name, or `{ via, name }`. */
export type ServerRef = ActorRef | string | { readonly via: ViaRegistry; readonly name: unknown };

/** Options of `start` / `spawn`. */
export interface SpawnOptions {
  /** Register the actor under this name (`{local, Name}` or `{via, Module, Name}`). */
  readonly name?: ActorName;
  /** Link the new actor to this one before `init` runs and make it the parent (`start_link`). */
  readonly link?: ActorRef;
  /** Start with `trap_exit` set, before `init` runs. @default false */
  readonly trapExit?: boolean;
}

/**
 * What `start` resolves with: gen_server's `{ok, Pid}`, `ignore`, or `{error, Reason}` (including
 * `{already_started, Pid}` for a taken name).
 */
export type StartResult =
  | { readonly ok: ActorRef }
  | 'ignore'
  | { readonly error: ExitReason | { readonly alreadyStarted: ActorRef } };

/** Options of an `ActorSystem`. */
export interface ActorSystemOptions {
  /** @default DEFAULTS.node */
  readonly node?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default defaultLogger() (pino) */
  readonly logger?: Logger;
  /** @default DEFAULTS.drainBudget */
  readonly drainBudget?: Partial<DrainBudget>;
  /**
   * Tick of the call-timeout wheel in ms: a call times out no earlier than its timeout and about
   * two ticks after it at most on an idle loop. @default DEFAULTS.callTimerTickMs (10)
   */
  readonly callTimerTickMs?: number;
}

/**
 * A node: the actors, their names, the scheduler and the clock.
 *
 * @example
 * ```ts
 * const system = new ActorSystem({ node: 'chat@local' });
 * const counter = await system.spawn<number, number, 'get', number, 'inc'>({
 *   init: (start) => ({ ok: start }),
 *   handleCast: (_msg, n) => ({ noreply: true, state: n + 1 }),
 *   handleCall: (_req, _from, n) => ({ reply: n, state: n }),
 * }, 0);
 * system.cast(counter, 'inc');
 * await system.call(counter, 'get'); // 1
 * ```
 */
export class ActorSystem {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry = new Registry();
  /**
   * How messages cross to other nodes: register a codec for each class a message to another node
   * may contain (see {@link CodecRegistry}). Used by the attached distribution.
   */
  readonly codecs = new CodecRegistry();
  private readonly kernel: Kernel;

  constructor(options: ActorSystemOptions = {}) {
    this.node = options.node ?? DEFAULTS.node;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? defaultLogger();
    const logger = moduleLogger(this.logger, 'actor');
    const scheduler = new Scheduler({ ...DEFAULTS.drainBudget, ...options.drainBudget }, (error) => {
      try {
        logger.error({ err: error }, 'error escaped an actor turn');
      } catch {
        // the logger itself is what failed: nothing more to tell
      }
    });
    const tick = options.callTimerTickMs ?? DEFAULTS.callTimerTickMs;
    if (!(tick > 0)) throw new RangeError(`callTimerTickMs must be a positive number of ms, got ${tick}`);
    this.kernel = new Kernel(this, this.node, this.clock, this.logger, this.registry, scheduler, tick);
  }

  /**
   * Starts a gen_server and resolves once `init` returned (`gen_server:start/start_link`).
   * Never rejects: failures are `{ error }` or `'ignore'`.
   */
  start<S, A, C, R, K, I>(
    behaviour: GenServer<S, A, C, R, K, I>,
    args: A,
    options: SpawnOptions = {},
  ): Promise<StartResult> {
    return Promise.resolve(this.startSync(behaviour, args, options));
  }

  private startSync<S, A, C, R, K, I>(
    behaviour: GenServer<S, A, C, R, K, I>,
    args: A,
    options: SpawnOptions,
  ): StartResult | Promise<StartResult> {
    const kernel = this.kernel;
    const ref = kernel.newRef();
    const process = new Process(ref, kernel, behaviour as never);
    if (options.name !== undefined) {
      const name = options.name;
      const taken =
        typeof name === 'string'
          ? !this.registry.registerName(name, ref)
          : !name.via.registerName(name.name, ref);
      if (taken) {
        const existing = kernel.refOf(name);
        return { error: existing ? { alreadyStarted: existing } : 'noproc' };
      }
      process.registeredAs = name;
    }
    kernel.processes.set(ref.id, process);
    ref.local = process;
    if (options.trapExit) process.trapping = true;
    if (options.link !== undefined) {
      const parent = kernel.lookup(options.link);
      if (!parent || parent.status === 'dead') {
        kernel.remove(process);
        ref.local = undefined;
        return { error: 'noproc' };
      }
      process.linkParent(parent);
    }
    return process.init(args);
  }

  /** Like `start`, but resolves with the ref and rejects with `StartError` on `{ error }` or `ignore`. */
  spawn<S, A, C, R, K, I>(
    behaviour: GenServer<S, A, C, R, K, I>,
    args: A,
    options: SpawnOptions = {},
  ): Promise<ActorRef> {
    const result = this.startSync(behaviour, args, options);
    // A synchronous init settles without an extra promise hop.
    return result instanceof Promise ? result.then(refOrThrow) : settleStart(result);
  }

  /**
   * `gen_server:call`: sends `request` and waits for the reply. Rejects with `CallTimeoutError` after
   * `timeoutMs` (`Infinity` for none), `NoProcError` if the target does not exist, `ExitError` with
   * its reason if it ends first. A reply after the timeout is dropped. To another node: the same,
   * plus `NoConnectionError` at once when its node is down (or when it goes down while waiting) and
   * `UnencodableMessageError` when the request cannot cross.
   */
  call<Reply = unknown>(
    target: ServerRef,
    request: unknown,
    timeoutMs: number = DEFAULTS.callTimeoutMs,
  ): Promise<Reply> {
    return this.kernel.call(target, request, timeoutMs);
  }

  /**
   * `gen_server:cast`: fire and forget; a missing target (or a down node) is ignored. Throws
   * `UnencodableMessageError` for a message another node cannot be sent.
   */
  cast(target: ServerRef, message: unknown): void {
    this.kernel.cast(target, message);
  }

  /**
   * `Pid ! Msg`: a raw message for `handleInfo`. A dead ref (or a down node) is ignored; an unknown
   * name throws `NoProcError`; a message another node cannot be sent throws `UnencodableMessageError`.
   */
  send(target: ServerRef, message: unknown): void {
    this.kernel.send(target, message);
  }

  /** Sends an exit signal from outside any actor (`exit/2`); `'kill'` cannot be trapped. */
  exit(target: ActorRef, reason: ExitReason): void {
    if (target.node !== this.node) this.kernel.remote?.exit(undefined, target, reason);
    else this.kernel.lookup(target)?.exitSignal(undefined, reason, false);
  }

  /**
   * Connects this node to others through `carrier` (Erlang's distribution; `@otp-chat/cluster`
   * gives one over Redis). From then on `send`, `cast`, `call`, `monitor`, `link` and `exit` on a
   * ref of another node go through it, with OTP's semantics: `noconnection` for a node that is
   * down, `DOWN` / `EXIT` with `noconnection` when a node goes down. Throws `DistributionError` when
   * one is already attached. The carrier keeps the returned port to hand in what other nodes send.
   */
  attachDistribution(carrier: Distribution): DistributionPort {
    return this.kernel.attach(carrier);
  }

  /** The other nodes this node is connected to (`nodes()`); empty without a distribution. */
  nodes(): string[] {
    return this.kernel.remote?.dist.nodes() ?? [];
  }

  /** True for this node, and for another node while the distribution sees it up. */
  isNodeUp(node: string): boolean {
    if (node === this.node) return true;
    return this.kernel.remote?.dist.isUp(node) ?? false;
  }

  /**
   * `gen_server:stop`: asks the actor to terminate with `reason` (after the messages already in its
   * mailbox), runs `terminate`, and resolves when it is gone. Rejects with `NoProcError` if it is
   * not alive.
   */
  stop(target: ServerRef, reason: ExitReason = 'normal'): Promise<void> {
    const process = this.kernel.resolve(target);
    if (!process || process.status === 'dead') {
      return Promise.reject(new NoProcError(describeTarget(target)));
    }
    if (process.stopIfIdle(reason) && !this.isAlive(process.self)) return RESOLVED;
    const done = process.whenExit();
    if (process.status !== 'exiting') process.deliverStop(reason);
    // Resolves with the exit reason; typed void as gen_server:stop returns ok. Saves a promise.
    return done as Promise<unknown> as Promise<void>;
  }

  /** Resolves with the actor's exit reason when it ends (`noproc` if it is not alive). */
  whenExit(target: ActorRef): Promise<ExitReason> {
    const process = this.kernel.lookup(target);
    return process ? process.whenExit() : Promise.resolve('noproc');
  }

  /** Links two actors (`link/1` as seen from `a`). */
  link(a: ActorRef, b: ActorRef): void {
    const process = this.kernel.lookup(a);
    if (process) process.link(b);
  }

  /** The ref registered under a local name or `{ via, name }` (`whereis/1`). */
  whereis(name: string | { readonly via: ViaRegistry; readonly name: unknown }): ActorRef | undefined {
    return this.kernel.refOf(name);
  }

  /** True while the actor exists (`is_process_alive/1`); an actor running `terminate` is alive. */
  isAlive(ref: ActorRef): boolean {
    const process = this.kernel.lookup(ref);
    return process !== undefined && process.status !== 'dead';
  }

  /** Number of live actors on this node. */
  count(): number {
    return this.kernel.processes.size;
  }

  /** Every live actor on this node (`processes/0`). */
  processes(): ActorRef[] {
    return [...this.kernel.processes.values()].map((p) => p.self);
  }

  /**
   * What an operator's observer shows of a live local actor (`erlang:process_info/2`): its
   * registered name (a local string name only), mailbox length, status, the parent it was started
   * linked to, and whether it traps exits. `undefined` when it is not alive.
   */
  processInfo(ref: ActorRef): ProcessInfo | undefined {
    const process = this.kernel.lookup(ref);
    if (process === undefined || process.status === 'dead') return undefined;
    const name = process.registeredAs;
    return {
      ref,
      registeredName: typeof name === 'string' ? name : undefined,
      messageQueueLength: process.messageQueueLength,
      status: process.status,
      parent: process.parent,
      trapExit: process.trapping,
    };
  }

  /**
   * The live local actor with the most messages waiting, and how many (a metric's view of
   * `process_info(P, message_queue_len)` over `processes/0`): one pass, nothing allocated per actor.
   * `undefined` when no actor lives.
   */
  longestMailbox(): { readonly ref: ActorRef; readonly length: number } | undefined {
    let best: Process | undefined;
    let length = -1;
    for (const process of this.kernel.processes.values()) {
      const n = process.messageQueueLength;
      if (n > length) {
        length = n;
        best = process;
      }
    }
    return best === undefined ? undefined : { ref: best.self, length };
  }

  /** Calls `listener` whenever an actor ends; returns a function that removes it. */
  onExit(listener: ExitListener): () => void {
    this.kernel.exitListeners.add(listener);
    return () => this.kernel.exitListeners.delete(listener);
  }
}

export type { ExitListener };

/** {@link ActorSystem.processInfo}'s answer. */
export interface ProcessInfo {
  readonly ref: ActorRef;
  readonly registeredName: string | undefined;
  readonly messageQueueLength: number;
  readonly status: Exclude<ProcessStatus, 'dead'>;
  readonly parent: ActorRef | undefined;
  readonly trapExit: boolean;
}

function describeTarget(target: ServerRef): ActorRef | string {
  if (typeof target === 'string' || isActorRef(target)) return target;
  return `{via, ${String(target.name)}}`;
}

function refOrThrow(result: StartResult): ActorRef {
  if (result === 'ignore') throw new StartError('ignore');
  if ('error' in result) throw new StartError(result.error);
  return result.ok;
}

function settleStart(result: StartResult): Promise<ActorRef> {
  if (result !== 'ignore' && 'ok' in result) return Promise.resolve(result.ok);
  return Promise.reject(new StartError(result === 'ignore' ? 'ignore' : result.error));
}
