import type { ActorContext } from '../ActorContext.ts';
import type { ActorRef } from '../ActorRef.ts';
import type { ActorSystem, ServerRef, SpawnOptions, StartResult } from '../ActorSystem.ts';
import type { ExitReason } from '../ExitReason.ts';
import { BadReturnError, CallingSelfError } from '../errors.ts';
import type { DownMessage, ExitMessage, From, GenServer, MonitorRef } from '../GenServer.ts';
import type { Logger } from '../Logger.ts';
import { isThenable } from '../MaybePromise.ts';
import type { Kernel } from './Kernel.ts';
import { Mailbox } from './Mailbox.ts';
import { CallList, type PendingCall } from './PendingCall.ts';
import type { RemoteRelations } from './Remote.ts';

// Mailbox entry kinds.
const CALL = 0;
const CAST = 1;
const INFO = 2;
const STOP = 3;
const CONTINUE = 4;

/** Lifecycle: init → running → exiting (terminate in progress) → dead. */
export type ProcessStatus = 'init' | 'running' | 'exiting' | 'dead';

type AnyServer = GenServer<unknown, unknown, unknown, unknown, unknown, unknown>;
type AnyResult = {
  readonly reply?: unknown;
  readonly noreply?: unknown;
  readonly stop?: ExitReason;
  readonly state?: unknown;
  readonly continue?: unknown;
};

let nextMonitorId = 1;

/**
 * One actor: a gen_server process. Fields that most actors never use (links, monitors, a pending
 * continue) are allocated on first use, so that an idle actor stays small.
 */
export class Process implements ActorContext {
  status: ProcessStatus = 'init';
  /** On the scheduler's run queue or being drained by it. */
  inRunQueue = false;
  /** An async callback (or init) is in flight: the mailbox is held until it settles. */
  busy = true;
  state: unknown;
  trapping = false;
  parent: ActorRef | undefined;
  registeredAs: SpawnOptions['name'];

  /** Allocated on the first message. */
  private mailbox: Mailbox | null = null;
  private continueValue: unknown;
  private hasContinue = false;
  /**
   * Calls being handled or answered later (`noreply`): the one a callback is handling now, and a
   * list of deferred ones (allocated on first use). Calls still in the mailbox are found there.
   * Together they are every unanswered call, failed with the exit reason when the actor ends.
   */
  private currentCall: PendingCall | null = null;
  private deferred: CallList | null = null;
  private links: Set<Process> | null = null;
  /** Monitors this actor holds: id → target. */
  private monitors: Map<number, Process> | null = null;
  /** Monitors on this actor: id → watcher. */
  private watchers: Map<number, Process> | null = null;
  /** Monitors, watchers and links with processes of other nodes (see `Remote.ts`). */
  remote: RemoteRelations | null = null;
  /** Who waits for the exit: one function, or an array once there are several. */
  private exitWaiters: ((reason: ExitReason) => void) | Array<(reason: ExitReason) => void> | null = null;

  constructor(
    readonly self: ActorRef,
    readonly kernel: Kernel,
    private readonly behaviour: AnyServer,
  ) {}

  get system(): ActorSystem {
    return this.kernel.system;
  }

  get logger(): Logger {
    return this.kernel.logger;
  }

  // ---- mailbox -------------------------------------------------------------------------------

  /** Messages waiting in the mailbox (`process_info(Pid, message_queue_len)`). */
  get messageQueueLength(): number {
    return this.mailbox === null ? 0 : this.mailbox.length;
  }

  private push(kind: number, item: unknown): void {
    this.mailbox ??= new Mailbox();
    this.mailbox.push(kind, item);
    if (!this.busy) this.kernel.scheduler.enqueue(this);
  }

  deliverCall(call: PendingCall): void {
    if (this.status === 'exiting') {
      this.defer(call); // answered with the exit reason when it ends
      return;
    }
    this.push(CALL, call);
  }

  /** Keeps a call that was received and not answered, so that it fails if this actor ends. */
  private defer(call: PendingCall): void {
    this.deferred ??= new CallList();
    this.deferred.add(call);
  }

  deliverCast(message: unknown): void {
    if (this.status !== 'exiting') this.push(CAST, message);
  }

  deliverInfo(message: unknown): void {
    if (this.status !== 'exiting') this.push(INFO, message);
  }

  deliverStop(reason: ExitReason): void {
    if (this.status !== 'exiting') this.push(STOP, reason);
  }

  /**
   * Stops now if nothing is queued, running or pending: with an empty mailbox, handling the stop
   * request immediately is indistinguishable from handling it as the next message (gen_server:stop
   * blocks its caller until the server is gone either way) and saves a mailbox and a scheduler turn.
   * Returns false when the request has to wait its turn in the mailbox.
   */
  stopIfIdle(reason: ExitReason): boolean {
    if (this.status !== 'running' || this.busy || this.inRunQueue || this.hasContinue) return false;
    if (this.mailbox !== null && this.mailbox.length > 0) return false;
    this.exit_(reason, true, undefined);
    return true;
  }

  /** Has work and may do it now. */
  isRunnable(): boolean {
    return (
      !this.busy &&
      this.status === 'running' &&
      (this.hasContinue || (this.mailbox !== null && this.mailbox.length > 0))
    );
  }

  /** Handles up to `limit` messages; returns how many. Called by the scheduler only. */
  drain(limit: number): number {
    let handled = 0;
    while (handled < limit && !this.busy && this.status === 'running') {
      let kind: number;
      let item: unknown;
      if (this.hasContinue) {
        kind = CONTINUE;
        item = this.continueValue;
        this.hasContinue = false;
        this.continueValue = undefined;
      } else {
        const mailbox = this.mailbox;
        if (mailbox === null || mailbox.length === 0) break;
        kind = mailbox.peekKind();
        item = mailbox.shiftItem();
      }
      handled++;
      this.handle(kind, item);
    }
    return handled;
  }

  private handle(kind: number, item: unknown): void {
    if (kind === CALL) this.currentCall = item as PendingCall;
    let result: unknown;
    try {
      result = this.dispatch(kind, item);
    } catch (error) {
      this.crash(error);
      return;
    }
    if (isThenable(result)) {
      this.busy = true;
      result.then(
        (settled) => {
          if (this.status === 'dead') return;
          this.busy = false;
          this.apply(kind, item, settled);
          if (this.isRunnable()) this.kernel.scheduler.enqueue(this);
        },
        (error: unknown) => {
          if (this.status === 'dead') return;
          this.busy = false;
          this.crash(error);
        },
      );
      return;
    }
    this.apply(kind, item, result);
  }

  private dispatch(kind: number, item: unknown): unknown {
    const b = this.behaviour;
    switch (kind) {
      case CAST:
        if (!b.handleCast) throw new BadReturnError('handleCast', 'not implemented');
        return b.handleCast(item, this.state, this);
      case CALL:
        if (!b.handleCall) throw new BadReturnError('handleCall', 'not implemented');
        return b.handleCall((item as PendingCall).request, item as unknown as From, this.state, this);
      case INFO:
        // gen_server handles an EXIT from its parent itself: terminate with the parent's reason.
        // An actor started without a link is its own parent, as in OTP (gen:do_spawn passes
        // `self` and gen_server:init_it/6 makes it self()): `exit(self, R)` while trapping ends it.
        if (isExitFrom(item, this.parent ?? this.self)) {
          return { stop: (item as ExitMessage).reason, state: this.state };
        }
        if (!b.handleInfo) {
          this.kernel.log.warn(
            { actor: this.self.toString(), message: describe(item) },
            'unexpected message dropped',
          );
          return { noreply: true, state: this.state };
        }
        return b.handleInfo(item, this.state, this);
      case CONTINUE:
        if (!b.handleContinue) throw new BadReturnError('handleContinue', 'not implemented');
        return b.handleContinue(item, this.state, this);
      default:
        return { stop: item as ExitReason, state: this.state };
    }
  }

  private apply(kind: number, item: unknown, value: unknown): void {
    this.currentCall = null;
    if (this.status !== 'running') return;
    const result = value as AnyResult | null;
    if (result === null || typeof result !== 'object') {
      this.crash(new BadReturnError(callbackName(kind), value));
      return;
    }
    if (result.noreply === true) {
      this.state = result.state;
      if (kind === CALL && !(item as PendingCall).done) this.defer(item as PendingCall);
    } else if (kind === CALL && 'reply' in result && !('stop' in result)) {
      this.state = result.state;
      (item as PendingCall).settle(result.reply);
    } else if (result.stop !== undefined) {
      this.state = result.state;
      let after: (() => void) | undefined;
      if (kind === CALL) {
        const call = item as PendingCall;
        if ('reply' in result) after = () => call.settle(result.reply);
        // `{ stop, state }` without a reply: the caller still waits and, as gen:do_call's monitor
        // tells it, fails with the exit reason as soon as this actor is gone (first of all callers).
        else if (!call.done) this.currentCall = call;
      }
      this.exit_(result.stop, true, after);
      return;
    } else {
      this.crash(new BadReturnError(callbackName(kind), value));
      return;
    }
    if (result.continue !== undefined) {
      this.hasContinue = true;
      this.continueValue = result.continue;
    }
  }

  // ---- start ---------------------------------------------------------------------------------

  /** Runs `init`; resolves with the start result once it returned. */
  init(args: unknown): StartResult | Promise<StartResult> {
    let result: unknown;
    try {
      result = this.behaviour.init(args, this);
    } catch (error) {
      return this.initFailed({ error });
    }
    if (isThenable(result)) {
      return result.then(
        (r) => this.initDone(r),
        (error: unknown) => this.initFailed({ error }),
      );
    }
    return this.initDone(result);
  }

  private initDone(result: unknown): StartResult {
    if (this.status !== 'init') return { error: this.deathReason ?? 'noproc' }; // killed during init
    if (result === 'ignore') {
      this.unlinkParentQuietly();
      this.finalize('normal');
      return 'ignore';
    }
    if (result === null || typeof result !== 'object')
      return this.initFailed({ error: new BadReturnError('init', result) });
    const r = result as { ok?: unknown; stop?: ExitReason; continue?: unknown };
    if ('ok' in r) {
      this.state = r.ok;
      this.status = 'running';
      this.busy = false;
      if (r.continue !== undefined) {
        this.hasContinue = true;
        this.continueValue = r.continue;
      }
      if (this.isRunnable()) this.kernel.scheduler.enqueue(this);
      return { ok: this.self };
    }
    if (r.stop !== undefined) return this.initFailed(r.stop);
    return this.initFailed({ error: new BadReturnError('init', result) });
  }

  private initFailed(reason: ExitReason): StartResult {
    if (this.status !== 'init') return { error: this.deathReason ?? reason };
    // OTP 26: the starter gets the error and the EXIT is consumed, so the parent is not signalled.
    this.unlinkParentQuietly();
    this.finalize(reason);
    return { error: reason };
  }

  private unlinkParentQuietly(): void {
    if (this.parent === undefined) return;
    const parent = this.kernel.lookup(this.parent);
    if (parent) {
      parent.links?.delete(this);
      this.links?.delete(parent);
    }
  }

  // ---- exits ---------------------------------------------------------------------------------

  private deathReason: ExitReason | undefined;

  private crash(error: unknown): void {
    this.exit_({ error }, true, undefined);
  }

  /**
   * Ends this actor. With `runTerminate` (a callback stopped, crashed, or the parent asked while
   * trapping) `terminate` runs first; an async `terminate` keeps the actor in `exiting`, where a
   * `kill` still ends it at once.
   */
  exit_(reason: ExitReason, runTerminate: boolean, after: (() => void) | undefined): void {
    if (this.status === 'dead' || this.status === 'exiting') return;
    const terminate = this.behaviour.terminate;
    if (!runTerminate || !terminate || this.status === 'init') {
      after?.();
      this.finalize(reason);
      return;
    }
    this.status = 'exiting';
    let result: unknown;
    try {
      result = terminate.call(this.behaviour, reason, this.state, this);
    } catch (error) {
      this.kernel.log.error({ actor: this.self.toString(), err: error }, 'terminate threw');
      reason = { error };
    }
    if (isThenable(result)) {
      result.then(
        () => {
          after?.();
          this.finalize(reason);
        },
        (error: unknown) => {
          this.kernel.log.error({ actor: this.self.toString(), err: error }, 'terminate rejected');
          after?.();
          this.finalize({ error });
        },
      );
      return;
    }
    after?.();
    this.finalize(reason);
  }

  /**
   * An exit signal arrives (`from` undefined: sent from outside any actor). OTP's table: `kill`
   * sent directly cannot be trapped; a trapping actor gets an `EXIT` message; `normal` from
   * another actor is dropped; anything else kills a non-trapping actor with the same reason.
   */
  exitSignal(from: ActorRef | undefined, reason: ExitReason, viaLink: boolean): void {
    if (this.status === 'dead') return;
    if (reason === 'kill' && !viaLink) {
      this.finalize('killed');
      return;
    }
    if (this.trapping && this.status !== 'exiting') {
      const message: ExitMessage = { type: 'EXIT', from, reason };
      this.push(INFO, message);
      return;
    }
    if (this.trapping) return; // trapping while in terminate: the EXIT would never be read
    if (reason === 'normal' && !from?.equals(this.self)) return;
    this.finalize(reason);
  }

  /** The actor is gone: tell calls, links, monitors and waiters, in that order. */
  private finalize(reason: ExitReason): void {
    if (this.status === 'dead') return;
    this.status = 'dead';
    this.deathReason = reason;
    this.busy = true;
    this.kernel.remove(this); // also unregisters the name, before anyone is told
    this.self.local = undefined;
    const mailbox = this.mailbox;
    this.mailbox = null;
    this.hasContinue = false;
    this.continueValue = undefined;
    const current = this.currentCall;
    this.currentCall = null;
    current?.fail(reason);
    mailbox?.forEach((kind, item) => {
      if (kind === CALL) (item as PendingCall).fail(reason);
    });
    this.deferred?.failAll(reason);
    if (this.monitors) {
      for (const [id, target] of this.monitors) target.watchers?.delete(id);
      this.monitors = null;
    }
    const links = this.links;
    this.links = null;
    if (links) {
      for (const linked of links) {
        linked.links?.delete(this);
        this.kernel.queueSignal(linked, this.self, reason);
      }
      this.kernel.flushSignals();
    }
    const watchers = this.watchers;
    this.watchers = null;
    if (watchers) {
      for (const [id, watcher] of watchers) {
        watcher.monitors?.delete(id);
        const down: DownMessage = { type: 'DOWN', ref: { monitorId: id }, target: this.self, reason };
        watcher.deliverInfo(down);
      }
    }
    if (this.remote !== null) this.kernel.remoteExited(this, reason);
    const waiters = this.exitWaiters;
    this.exitWaiters = null;
    if (typeof waiters === 'function') waiters(reason);
    else if (waiters) for (const waiter of waiters) waiter(reason);
    this.kernel.exited(this, reason);
  }

  /** Resolves with the exit reason when this actor ends. */
  whenExit(): Promise<ExitReason> {
    if (this.status === 'dead') return Promise.resolve(this.deathReason ?? 'noproc');
    return new Promise((resolve) => {
      const waiters = this.exitWaiters;
      if (waiters === null) this.exitWaiters = resolve;
      else if (typeof waiters === 'function') this.exitWaiters = [waiters, resolve];
      else waiters.push(resolve);
    });
  }

  // ---- ActorContext --------------------------------------------------------------------------

  link(other: ActorRef): void {
    if (other.node !== this.kernel.node) {
      const remote = this.kernel.remote;
      if (remote !== undefined) remote.link(this, other);
      else this.exitSignal(other, 'noconnection', true);
      return;
    }
    const target = this.kernel.lookup(other);
    if (!target || target.status === 'dead') {
      this.exitSignal(other, 'noproc', true);
      return;
    }
    if (target === this) return;
    this.links ??= new Set();
    target.links ??= new Set();
    this.links.add(target);
    target.links.add(this);
  }

  unlink(other: ActorRef): void {
    if (other.node !== this.kernel.node) {
      this.kernel.remote?.unlink(this, other);
      return;
    }
    const target = this.kernel.lookup(other);
    if (!target) return;
    this.links?.delete(target);
    target.links?.delete(this);
  }

  monitor(target: ServerRef): MonitorRef {
    const id = nextMonitorId++;
    const ref: MonitorRef = { monitorId: id };
    const process = this.kernel.resolve(target);
    if (process === undefined) {
      const remoteRef = this.kernel.refOf(target);
      if (remoteRef !== undefined && remoteRef.node !== this.kernel.node) {
        const remote = this.kernel.remote;
        if (remote !== undefined) remote.monitor(this, remoteRef, ref);
        else
          this.deliverInfo({ type: 'DOWN', ref, target: remoteRef, reason: 'noconnection' } as DownMessage);
        return ref;
      }
    }
    if (!process || process.status === 'dead') {
      const down: DownMessage = {
        type: 'DOWN',
        ref,
        // OTP names the missing process ({Name, Node}); never the watcher itself. For a name
        // with no holder, a fresh ref that never lived stands for it.
        target: process?.self ?? this.kernel.refOf(target) ?? this.kernel.newRef(),
        reason: 'noproc',
      };
      this.deliverInfo(down);
      return ref;
    }
    this.monitors ??= new Map();
    process.watchers ??= new Map();
    this.monitors.set(id, process);
    process.watchers.set(id, this);
    return ref;
  }

  demonitor(ref: MonitorRef, options?: { readonly flush?: boolean }): void {
    const target = this.monitors?.get(ref.monitorId);
    if (target) {
      this.monitors!.delete(ref.monitorId);
      target.watchers?.delete(ref.monitorId);
    } else if (this.remote !== null) {
      this.kernel.remote?.demonitor(this, ref);
    }
    if (options?.flush) {
      this.mailbox?.removeFirst((kind, item) => {
        const down = item as Partial<DownMessage> | undefined;
        return kind === INFO && down?.type === 'DOWN' && down.ref?.monitorId === ref.monitorId;
      });
    }
  }

  trapExit(flag: boolean): boolean {
    const previous = this.trapping;
    this.trapping = flag;
    return previous;
  }

  exit(target: ActorRef, reason: ExitReason): void {
    if (target.node !== this.kernel.node) this.kernel.remote?.exit(this.self, target, reason);
    else this.kernel.lookup(target)?.exitSignal(this.self, reason, false);
  }

  call<Reply = unknown>(target: ServerRef, request: unknown, timeoutMs?: number): Promise<Reply> {
    const process = this.kernel.resolve(target);
    if (process === this) return Promise.reject(new CallingSelfError(this.self));
    return this.kernel.call(target, request, timeoutMs);
  }

  cast(target: ServerRef, message: unknown): void {
    this.kernel.cast(target, message);
  }

  send(target: ServerRef, message: unknown): void {
    this.kernel.send(target, message);
  }

  reply<R>(from: From<R>, value: R): void {
    (from as unknown as PendingCall).settle(value);
  }

  start<S, A, C, R, K, I>(
    behaviour: GenServer<S, A, C, R, K, I>,
    args: A,
    options?: Omit<SpawnOptions, 'link'> & { readonly link?: boolean },
  ): Promise<StartResult> {
    const { link, ...rest } = options ?? {};
    return this.kernel.system.start(behaviour, args, link ? { ...rest, link: this.self } : rest);
  }

  /** Links `this` (a new actor) with its parent before `init` runs (`spawn_link`). */
  linkParent(parent: Process): void {
    this.parent = parent.self;
    this.links ??= new Set();
    parent.links ??= new Set();
    this.links.add(parent);
    parent.links.add(this);
  }
}

function isExitFrom(message: unknown, parent: ActorRef): boolean {
  const m = message as Partial<ExitMessage> | null;
  return m !== null && typeof m === 'object' && m.type === 'EXIT' && m.from?.equals(parent) === true;
}

function callbackName(kind: number): string {
  return ['handleCall', 'handleCast', 'handleInfo', 'stop', 'handleContinue'][kind] ?? 'callback';
}

function describe(message: unknown): string {
  try {
    return JSON.stringify(message) ?? String(message);
  } catch {
    return String(message);
  }
}
