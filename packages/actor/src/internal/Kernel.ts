import { ActorRef } from '../ActorRef.ts';
import type { ActorSystem, ServerRef } from '../ActorSystem.ts';
import type { Clock } from '../Clock.ts';
import type { Distribution, DistributionPort, DistSignal } from '../Distribution.ts';
import { type ExitReason, isCleanExit } from '../ExitReason.ts';
import { DistributionError, NoConnectionError, NoProcError } from '../errors.ts';
import { type Logger, moduleLogger } from '../Logger.ts';
import type { Registry } from '../Registry.ts';
import { Deadlines } from './Deadlines.ts';
import { PendingCall } from './PendingCall.ts';
import type { Process } from './Process.ts';
import { RemoteTable } from './Remote.ts';
import type { Scheduler } from './Scheduler.ts';

/** Listener for every actor exit (for observability; see `ActorSystem.onExit`). */
export type ExitListener = (ref: ActorRef, reason: ExitReason, name: string | undefined) => void;

/**
 * The runtime's shared core: the process table, names, scheduler and call deadlines. `ActorSystem`
 * is its public face; `Process` reaches it for everything outside itself.
 */
export class Kernel {
  readonly processes = new Map<number, Process>();
  readonly deadlines: Deadlines;
  readonly exitListeners = new Set<ExitListener>();
  /** Where the runtime logs its own records (`module: 'actor'`); `logger` is what actors get. */
  readonly log: Logger;
  /** The distribution side, while a carrier is attached (see `ActorSystem.attachDistribution`). */
  remote: RemoteTable | undefined;
  private nextId = 1;

  constructor(
    readonly system: ActorSystem,
    readonly node: string,
    readonly clock: Clock,
    readonly logger: Logger,
    readonly registry: Registry,
    readonly scheduler: Scheduler,
    callTimerTickMs: number,
  ) {
    this.deadlines = new Deadlines(clock, callTimerTickMs);
    this.log = moduleLogger(logger, 'actor');
  }

  private signals: Array<{ to: Process; from: ActorRef; reason: ExitReason }> = [];
  private signalling = false;

  /**
   * Queues a link's exit signal; `flushSignals` delivers the queue in order from one loop, so a
   * crash spreading through a long chain of links is breadth-first and never deepens the stack.
   */
  queueSignal(to: Process, from: ActorRef, reason: ExitReason): void {
    this.signals.push({ to, from, reason });
  }

  flushSignals(): void {
    if (this.signalling) return; // the outer loop delivers what was queued
    this.signalling = true;
    try {
      for (let i = 0; i < this.signals.length; i++) {
        const s = this.signals[i]!;
        s.to.exitSignal(s.from, s.reason, true);
      }
    } finally {
      this.signals = [];
      this.signalling = false;
    }
  }

  newRef(): ActorRef {
    return new ActorRef(this.node, this.nextId++);
  }

  /** Attaches a distribution carrier; see `ActorSystem.attachDistribution`. */
  attach(dist: Distribution): DistributionPort {
    if (this.remote !== undefined)
      throw new DistributionError(this.node, 'a distribution is already attached');
    const table = new RemoteTable(this, dist);
    this.remote = table;
    const live = () => this.remote === table;
    return {
      receive: (fromNode: string, signal: DistSignal) => {
        if (live()) table.receive(fromNode, signal);
      },
      nodeDown: (node: string) => {
        if (live()) table.nodeDown(node);
      },
      reserveIds: (floor: number) => {
        if (floor > this.nextId) this.nextId = floor;
      },
      detach: () => {
        if (!live()) return;
        for (const node of table.knownNodes()) table.nodeDown(node);
        this.remote = undefined;
      },
    };
  }

  /** True for a ref of another node. */
  isForeign(ref: ActorRef): boolean {
    return ref.node !== this.node;
  }

  lookup(ref: ActorRef): Process | undefined {
    // The ref made at spawn points at its process (cleared at exit); copies read back from JSON
    // go through the table.
    const local = ref.local as Process | undefined;
    if (local !== undefined && local.kernel === this) return local;
    return ref.node === this.node ? this.processes.get(ref.id) : undefined;
  }

  /** A ref, a local name or `{ via, name }` to a live process, or undefined. */
  resolve(target: ServerRef): Process | undefined {
    if (target instanceof ActorRef) return this.lookup(target);
    const ref = this.refOf(target);
    return ref ? this.lookup(ref) : undefined;
  }

  refOf(target: ServerRef): ActorRef | undefined {
    if (target instanceof ActorRef) return target;
    if (typeof target === 'string') return this.registry.whereisName(target);
    return target.via.whereisName(target.name);
  }

  call<Reply>(target: ServerRef, request: unknown, timeoutMs = 5000): Promise<Reply> {
    const process = this.resolve(target);
    if (process === undefined || process.status === 'dead') {
      const ref = process === undefined ? this.refOf(target) : undefined;
      if (ref !== undefined && ref.node !== this.node) {
        // A process of another node: through the distribution, or `noconnection` without one.
        const remote = this.remote;
        if (remote !== undefined) return remote.call(ref, request, timeoutMs);
        return Promise.reject(new NoConnectionError(ref));
      }
      return Promise.reject(new NoProcError(target instanceof ActorRef ? target : describeName(target)));
    }
    return new Promise<Reply>((resolve, reject) => {
      const call = new PendingCall(process.self, request, timeoutMs, resolve as (v: unknown) => void, reject);
      if (timeoutMs !== Number.POSITIVE_INFINITY) this.deadlines.add(call);
      process.deliverCall(call);
    });
  }

  /**
   * `gen_server:cast`: a missing target is ignored; a process of another node gets it through the
   * distribution (dropped when its node is down). Throws `UnencodableMessageError` for a message
   * another node cannot be sent.
   */
  cast(target: ServerRef, message: unknown): void {
    const process = this.resolve(target);
    if (process !== undefined) {
      process.deliverCast(message);
      return;
    }
    const ref = target instanceof ActorRef ? target : this.refOf(target);
    if (ref !== undefined && ref.node !== this.node) this.remote?.send(ref, message, 'cast');
  }

  /**
   * `!`: a dead ref is ignored; an unregistered name throws, as `badarg` does in Erlang. A process
   * of another node gets it through the distribution (dropped when its node is down).
   */
  send(target: ServerRef, message: unknown): void {
    const process = this.resolve(target);
    if (process) {
      process.deliverInfo(message);
      return;
    }
    const ref = target instanceof ActorRef ? target : this.refOf(target);
    if (ref !== undefined && ref.node !== this.node) this.remote?.send(ref, message, 'send');
    else if (!(target instanceof ActorRef)) throw new NoProcError(describeName(target));
  }

  /** A local process ended: its relations with other nodes' processes are told. */
  remoteExited(process: Process, reason: ExitReason): void {
    if (this.remote !== undefined) this.remote.processExited(process, reason);
    else process.remote = null;
  }

  remove(process: Process): void {
    this.processes.delete(process.self.id);
    const name = process.registeredAs;
    if (name === undefined) return;
    if (typeof name === 'string') {
      if (this.registry.whereisName(name) === process.self) this.registry.unregisterName(name);
    } else {
      // User code, run from inside finalize: a throw here must not leave the actor half-dead
      // (links, monitors and waiters untold) nor escape into the scheduler and stall every actor.
      try {
        name.via.unregisterName(name.name);
      } catch (error) {
        this.log.error(
          { actor: process.self.toString(), name: String(name.name), err: error },
          'via registry unregisterName threw',
        );
      }
    }
  }

  exited(process: Process, reason: ExitReason): void {
    const name = typeof process.registeredAs === 'string' ? process.registeredAs : undefined;
    if (!isCleanExit(reason)) {
      this.log.error(
        { actor: process.self.toString(), name, reason: reasonForLog(reason) },
        'actor exited abnormally',
      );
    }
    for (const listener of this.exitListeners) {
      try {
        listener(process.self, reason, name);
      } catch (error) {
        this.log.error({ err: error }, 'exit listener threw');
      }
    }
  }
}

function describeName(target: Exclude<ServerRef, ActorRef>): string {
  return typeof target === 'string' ? target : `{via, ${String(target.name)}}`;
}

function reasonForLog(reason: ExitReason): unknown {
  if (typeof reason === 'object' && 'error' in reason && reason.error instanceof Error) {
    return { error: { name: reason.error.name, message: reason.error.message, stack: reason.error.stack } };
  }
  return reason;
}
