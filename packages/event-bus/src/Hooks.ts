import { defaultLogger, isThenable, type Logger, moduleLogger } from '@otp-chat/actor';
import { DEFAULTS } from './DEFAULTS.ts';
import type { EventBus } from './EventBus.ts';
import { HookArityError, InvalidHookSeqError } from './HookError.ts';
import type {
  FoldHookName,
  HookAcc,
  HookArgs,
  HookHandler,
  HookHost,
  HookMap,
  HookSubscriber,
  HookTraceEvent,
  RunHookName,
} from './HookMap.ts';
import { handlerName } from './internal/handlerName.ts';

type AnyFn = (...args: unknown[]) => unknown;

/** One registration. Identity is `(fn, seq)` within a `(hook, host)` slot. */
interface Entry {
  readonly fn: AnyFn;
  readonly seq: number;
  /** Insertion counter: the tie-break for equal `seq`. */
  readonly order: number;
}

interface SubEntry {
  readonly fn: HookSubscriber<unknown>;
  readonly init: unknown;
}

/**
 * The handlers of one `(hook, host)`. `handlers` is replaced, never mutated (copy on write), so a
 * run iterates over the snapshot it started with, as ejabberd iterates over the list it read from
 * ETS; `add` / `delete` during a run affect the next run only.
 */
interface Slot {
  handlers: readonly Entry[];
  /** `null` when nobody traces: the hot path tests this once per run. */
  subscribers: readonly SubEntry[] | null;
}

/**
 * The slots of one hook, by host, with a one-entry cache of the last host looked up: a server
 * with one virtual host (and the global list) then finds its slot with a single `Map` lookup.
 */
interface HookRecord {
  readonly byHost: Map<HookHost, Slot>;
  lastHost: HookHost | undefined;
  lastSlot: Slot | undefined;
}

/** Options of `new Hooks()`. */
export interface HooksOptions {
  /** Where handler failures are logged. @default `defaultLogger()` of `@otp-chat/actor` (pino) */
  readonly logger?: Logger;
  /** Where `hook_handler_failed` is emitted. @default none */
  readonly events?: EventBus;
}

/** A registered handler as `Hooks.handlers` reports it, in run order. */
export interface HookRegistration {
  readonly handler: Function;
  readonly seq: number;
}

const MAX_ARGS = DEFAULTS.maxHookArgs;

/**
 * `'stop'` as a non-widening literal: return it from an `async` handler, where TypeScript would
 * widen a bare `return 'stop'` to `string` (or write `'stop' as const`).
 */
export const STOP: 'stop' = 'stop';

// Positional calls: no argument array is built on the synchronous path.
function call(
  fn: AnyFn,
  n: number,
  a0: unknown,
  a1: unknown,
  a2: unknown,
  a3: unknown,
  a4: unknown,
  a5: unknown,
): unknown {
  switch (n) {
    case 0:
      return fn();
    case 1:
      return fn(a0);
    case 2:
      return fn(a0, a1);
    case 3:
      return fn(a0, a1, a2);
    case 4:
      return fn(a0, a1, a2, a3);
    case 5:
      return fn(a0, a1, a2, a3, a4);
    default:
      return fn(a0, a1, a2, a3, a4, a5);
  }
}

function callFold(
  fn: AnyFn,
  n: number,
  acc: unknown,
  a0: unknown,
  a1: unknown,
  a2: unknown,
  a3: unknown,
  a4: unknown,
  a5: unknown,
): unknown {
  switch (n) {
    case 0:
      return fn(acc);
    case 1:
      return fn(acc, a0);
    case 2:
      return fn(acc, a0, a1);
    case 3:
      return fn(acc, a0, a1, a2);
    case 4:
      return fn(acc, a0, a1, a2, a3);
    case 5:
      return fn(acc, a0, a1, a2, a3, a4);
    default:
      return fn(acc, a0, a1, a2, a3, a4, a5);
  }
}

function toArray(
  n: number,
  a0: unknown,
  a1: unknown,
  a2: unknown,
  a3: unknown,
  a4: unknown,
  a5: unknown,
): unknown[] {
  return [a0, a1, a2, a3, a4, a5].slice(0, n);
}

/** Threads subscriber states through one traced run; drops a subscriber that throws (`ejabberd_hooks:subscribe/5`). */
class Trace {
  private readonly states: unknown[];
  private readonly alive: boolean[];

  constructor(
    private readonly subs: readonly SubEntry[],
    private readonly logger: Logger,
  ) {
    this.states = subs.map((s) => s.init);
    this.alive = subs.map(() => true);
  }

  /** `after_callback` for one handler call, with its result or the error it raised. */
  afterCallback(
    hook: string,
    host: HookHost,
    e: Entry,
    args: unknown[],
    outcome: { readonly result: unknown } | { readonly error: unknown },
  ): void {
    this.emit(
      'error' in outcome
        ? {
            type: 'after_callback',
            hook,
            host,
            handler: e.fn,
            seq: e.seq,
            args,
            result: undefined,
            error: outcome.error,
          }
        : { type: 'after_callback', hook, host, handler: e.fn, seq: e.seq, args, result: outcome.result },
    );
  }

  emit(event: HookTraceEvent): void {
    for (let i = 0; i < this.subs.length; i++) {
      if (!this.alive[i]) continue;
      try {
        this.states[i] = this.subs[i]!.fn(this.states[i], event);
      } catch (err) {
        this.alive[i] = false;
        this.logger.warn(
          { err, hook: event.hook, host: event.host, subscriber: handlerName(this.subs[i]!.fn) },
          'hook subscriber crashed; dropped for the rest of this run',
        );
      }
    }
  }
}

/**
 * `ejabberd_hooks` for one server: per `(hook, host)` sorted handler lists, `run` and `runFold`.
 *
 * An instance, not a global: tests and several servers in one process stay isolated. The hook
 * names, argument and accumulator types come from `HookMap` (module augmentation) or from an
 * explicit map `M`.
 *
 * - Order: ascending `seq`; equal `seq` run in insertion order (ejabberd sorts ties by module and
 *   function name, which JavaScript functions do not reliably have).
 * - Identity: `(hook, host, handler, seq)`; adding the identical registration twice is a no-op, and
 *   the same handler with another `seq` is a second registration (`ejabberd_hooks:add/5`).
 * - Host lists and the `'global'` list are separate: no fallback between them (`ejabberd_hooks:run/3`).
 * - A handler that throws or rejects is logged, reported as `hook_handler_failed`, and skipped.
 * - When every handler returns synchronously the run is synchronous and allocates nothing; from the
 *   first handler that returns a thenable the rest of the run continues asynchronously.
 */
export class Hooks<M = HookMap> {
  private readonly table = new Map<string, HookRecord>();
  private readonly logger: Logger;
  private readonly events: EventBus | undefined;
  private order = 0;

  constructor(options: HooksOptions = {}) {
    this.logger = moduleLogger(options.logger ?? defaultLogger(), 'hooks');
    this.events = options.events;
  }

  /**
   * Registers `handler` for `hook` on `host` (a virtual host or `'global'`) at `seq`
   * (`ejabberd_hooks:add/4,5`). Returns false when the identical registration already existed.
   */
  add<K extends keyof M & string>(hook: K, host: HookHost, handler: HookHandler<M, K>, seq: number): boolean {
    if (!Number.isFinite(seq)) throw new InvalidHookSeqError(hook, seq);
    const fn = handler as unknown as AnyFn;
    const slot = this.slot(hook, host, true);
    const list = slot.handlers;
    let at = list.length;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.fn === fn && e.seq === seq) return false;
      if (e.seq > seq && at === list.length) at = i;
    }
    const next = list.slice();
    next.splice(at, 0, { fn, seq, order: this.order++ });
    slot.handlers = next;
    return true;
  }

  /**
   * Removes the registration made with exactly these arguments (`ejabberd_hooks:delete/4,5`).
   * Returns false when there was none.
   */
  delete<K extends keyof M & string>(
    hook: K,
    host: HookHost,
    handler: HookHandler<M, K>,
    seq: number,
  ): boolean {
    const slot = this.slot(hook, host, false);
    if (slot === undefined) return false;
    const fn = handler as unknown as AnyFn;
    const idx = slot.handlers.findIndex((e) => e.fn === fn && e.seq === seq);
    if (idx < 0) return false;
    slot.handlers = slot.handlers.filter((_, i) => i !== idx);
    this.prune(hook, host, slot);
    return true;
  }

  /**
   * True when `run`/`runFold` on `(hook, host)` would call anything (a handler or a tracing
   * subscriber). Allocates nothing: a caller can skip building the arguments of a hook nobody
   * listens to.
   */
  has(hook: keyof M & string, host: HookHost): boolean {
    const rec = this.table.get(hook);
    if (rec === undefined) return false;
    if (rec.lastHost === host) return rec.lastSlot !== undefined;
    return rec.byHost.has(host);
  }

  /** The registrations of `(hook, host)` in run order. */
  handlers(hook: keyof M & string, host: HookHost): readonly HookRegistration[] {
    const slot = this.slot(hook, host, false);
    return slot === undefined ? [] : slot.handlers.map((e) => ({ handler: e.fn, seq: e.seq }));
  }

  /**
   * Every `(hook, host)` that has handlers, sorted by hook then host, each with its registrations
   * in run order: what an operator's observer lists (ejabberd's `ets:tab2list(hooks)`).
   */
  registered(): {
    readonly hook: string;
    readonly host: HookHost;
    readonly handlers: readonly HookRegistration[];
  }[] {
    const out: { hook: string; host: HookHost; handlers: HookRegistration[] }[] = [];
    for (const [hook, rec] of this.table) {
      for (const [host, slot] of rec.byHost) {
        if (slot.handlers.length === 0) continue;
        out.push({ hook, host, handlers: slot.handlers.map((e) => ({ handler: e.fn, seq: e.seq })) });
      }
    }
    return out.sort((a, b) => (a.hook === b.hook ? (a.host < b.host ? -1 : 1) : a.hook < b.hook ? -1 : 1));
  }

  /**
   * Adds a tracing subscriber to `(hook, host)` (ejabberd's `subscribe`). Subscribers run in
   * insertion order; subscribing the identical function twice is a no-op. Off by default, and
   * free when off: an untraced run tests one field.
   */
  subscribe<S>(
    hook: keyof M & string,
    host: HookHost,
    subscriber: HookSubscriber<S>,
    initialState: S,
  ): boolean {
    const slot = this.slot(hook, host, true);
    const subs = slot.subscribers ?? [];
    if (subs.some((s) => s.fn === subscriber)) return false;
    slot.subscribers = [...subs, { fn: subscriber as HookSubscriber<unknown>, init: initialState }];
    return true;
  }

  /** Removes a subscriber added by `subscribe`. */
  unsubscribe<S>(hook: keyof M & string, host: HookHost, subscriber: HookSubscriber<S>): boolean {
    const slot = this.slot(hook, host, false);
    if (slot?.subscribers == null) return false;
    const rest = slot.subscribers.filter((s) => s.fn !== subscriber);
    if (rest.length === slot.subscribers.length) return false;
    slot.subscribers = rest.length === 0 ? null : rest;
    this.prune(hook, host, slot);
    return true;
  }

  /**
   * Runs the handlers of `(hook, host)` with `args` (`ejabberd_hooks:run/3`). A handler returning
   * `'stop'` halts the chain. Synchronous (returns `undefined`) while every handler is; a promise
   * otherwise.
   */
  // @ts-expect-error TS2394: the implementation takes positional parameters (no rest array per run).
  run<K extends RunHookName<M>>(hook: K, host: HookHost, ...args: HookArgs<M, K>): void | Promise<void>;
  run(
    hook: string,
    host: HookHost,
    a0?: unknown,
    a1?: unknown,
    a2?: unknown,
    a3?: unknown,
    a4?: unknown,
    a5?: unknown,
  ): void | Promise<void> {
    const rec = this.table.get(hook);
    if (rec === undefined) return;
    let slot = rec.lastSlot;
    if (rec.lastHost !== host) {
      slot = rec.byHost.get(host);
      rec.lastHost = host;
      rec.lastSlot = slot;
    }
    if (slot === undefined) return;
    // biome-ignore lint/complexity/noArguments: counting positional arguments avoids a rest array per run.
    const n = arguments.length - 2;
    if (n > MAX_ARGS) throw new HookArityError(hook, n, MAX_ARGS);
    if (slot.subscribers !== null) {
      return this.traced(false, hook, host, slot, undefined, toArray(n, a0, a1, a2, a3, a4, a5)) as
        | undefined
        | Promise<void>;
    }
    const list = slot.handlers;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      let r: unknown;
      try {
        r = call(e.fn, n, a0, a1, a2, a3, a4, a5);
      } catch (err) {
        this.failed(hook, host, e, err);
        continue;
      }
      if (r === undefined) continue;
      if (r === 'stop') return;
      if (isThenable(r)) {
        const args = toArray(n, a0, a1, a2, a3, a4, a5);
        return this.resume(false, hook, host, list, i, undefined, args, null, r) as Promise<void>;
      }
    }
  }

  /**
   * Folds `acc` through the handlers of `(hook, host)` (`ejabberd_hooks:run_fold/4`). Each handler
   * gets `(acc, ...args)`; `'stop'` halts with the current accumulator, `{ stop: v }` halts with
   * `v`, anything else becomes the accumulator. A handler that fails leaves the accumulator
   * unchanged. Synchronous while every handler is; a promise otherwise.
   */
  // @ts-expect-error TS2394: the implementation takes positional parameters (no rest array per run).
  runFold<K extends FoldHookName<M>>(
    hook: K,
    host: HookHost,
    acc: HookAcc<M, K>,
    ...args: HookArgs<M, K>
  ): HookAcc<M, K> | Promise<HookAcc<M, K>>;
  runFold(
    hook: string,
    host: HookHost,
    acc: unknown,
    a0?: unknown,
    a1?: unknown,
    a2?: unknown,
    a3?: unknown,
    a4?: unknown,
    a5?: unknown,
  ): unknown {
    const rec = this.table.get(hook);
    if (rec === undefined) return acc;
    let slot = rec.lastSlot;
    if (rec.lastHost !== host) {
      slot = rec.byHost.get(host);
      rec.lastHost = host;
      rec.lastSlot = slot;
    }
    if (slot === undefined) return acc;
    // biome-ignore lint/complexity/noArguments: counting positional arguments avoids a rest array per run.
    const n = arguments.length - 3;
    if (n > MAX_ARGS) throw new HookArityError(hook, n, MAX_ARGS);
    if (slot.subscribers !== null) {
      return this.traced(true, hook, host, slot, acc, toArray(n, a0, a1, a2, a3, a4, a5));
    }
    const list = slot.handlers;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      let r: unknown;
      try {
        r = callFold(e.fn, n, acc, a0, a1, a2, a3, a4, a5);
      } catch (err) {
        this.failed(hook, host, e, err);
        continue;
      }
      if (r === 'stop') return acc;
      if (isThenable(r)) {
        const args = toArray(n, a0, a1, a2, a3, a4, a5);
        return this.resume(true, hook, host, list, i, acc, args, null, r);
      }
      if (typeof r === 'object' && r !== null && Object.hasOwn(r, 'stop'))
        return (r as { stop: unknown }).stop;
      acc = r;
    }
    return acc;
  }

  // ---- slow paths: tracing and asynchronous continuation (they may allocate) ----

  private traced(
    fold: boolean,
    hook: string,
    host: HookHost,
    slot: Slot,
    acc: unknown,
    args: unknown[],
  ): unknown {
    const trace = new Trace(slot.subscribers!, this.logger);
    trace.emit({ type: 'before', hook, host, args: fold ? [acc, ...args] : args });
    return this.continueFrom(fold, hook, host, slot.handlers, 0, acc, args, trace);
  }

  /** Runs `list` from index `i` synchronously until a handler returns a thenable. */
  private continueFrom(
    fold: boolean,
    hook: string,
    host: HookHost,
    list: readonly Entry[],
    i: number,
    acc: unknown,
    args: unknown[],
    trace: Trace | null,
  ): unknown {
    for (; i < list.length; i++) {
      const e = list[i]!;
      const callArgs = fold ? [acc, ...args] : args;
      trace?.emit({ type: 'before_callback', hook, host, handler: e.fn, seq: e.seq, args: callArgs });
      let r: unknown;
      try {
        r = e.fn(...callArgs);
      } catch (err) {
        this.failed(hook, host, e, err);
        trace?.afterCallback(hook, host, e, callArgs, { error: err });
        continue;
      }
      if (isThenable(r)) return this.resume(fold, hook, host, list, i, acc, args, trace, r);
      trace?.afterCallback(hook, host, e, callArgs, { result: r });
      const step = settle(fold, r, acc);
      acc = step.acc;
      if (step.halt) break;
    }
    const result = fold ? acc : undefined;
    trace?.emit({ type: 'after', hook, host, args, result });
    return result;
  }

  /** Awaits the thenable returned by `list[i]`, then continues the run from `i + 1`. */
  private async resume(
    fold: boolean,
    hook: string,
    host: HookHost,
    list: readonly Entry[],
    i: number,
    acc: unknown,
    args: unknown[],
    trace: Trace | null,
    pending: PromiseLike<unknown>,
  ): Promise<unknown> {
    const e = list[i]!;
    const callArgs = trace === null ? args : fold ? [acc, ...args] : args;
    let r: unknown;
    try {
      r = await pending;
    } catch (err) {
      this.failed(hook, host, e, err);
      trace?.afterCallback(hook, host, e, callArgs, { error: err });
      return this.continueFrom(fold, hook, host, list, i + 1, acc, args, trace);
    }
    trace?.afterCallback(hook, host, e, callArgs, { result: r });
    const step = settle(fold, r, acc);
    if (step.halt) {
      const result = fold ? step.acc : undefined;
      trace?.emit({ type: 'after', hook, host, args, result });
      return result;
    }
    return this.continueFrom(fold, hook, host, list, i + 1, step.acc, args, trace);
  }

  private failed(hook: string, host: HookHost, e: Entry, error: unknown): void {
    const name = handlerName(e.fn);
    this.logger.error(
      { err: error, hook, host, seq: e.seq, handler: name },
      `hook ${hook} handler ${name} failed`,
    );
    this.events?.emit('hook_handler_failed', {
      hook,
      host,
      seq: e.seq,
      handler: e.fn,
      handlerName: name,
      error,
    });
  }

  private slot(hook: string, host: HookHost, create: true): Slot;
  private slot(hook: string, host: HookHost, create: false): Slot | undefined;
  private slot(hook: string, host: HookHost, create: boolean): Slot | undefined {
    let rec = this.table.get(hook);
    if (rec === undefined) {
      if (!create) return undefined;
      rec = { byHost: new Map(), lastHost: undefined, lastSlot: undefined };
      this.table.set(hook, rec);
    }
    let slot = rec.byHost.get(host);
    if (slot === undefined && create) {
      slot = { handlers: [], subscribers: null };
      rec.byHost.set(host, slot);
      rec.lastHost = undefined;
      rec.lastSlot = undefined;
    }
    return slot;
  }

  /** Drops an empty slot so that `run` on it is as cheap as on a hook never registered. */
  private prune(hook: string, host: HookHost, slot: Slot): void {
    if (slot.handlers.length > 0 || slot.subscribers !== null) return;
    const rec = this.table.get(hook);
    if (rec === undefined) return;
    rec.byHost.delete(host);
    rec.lastHost = undefined;
    rec.lastSlot = undefined;
    if (rec.byHost.size === 0) this.table.delete(hook);
  }
}

/** Applies one handler result: `'stop'`, `{ stop: v }` (folds), or a new accumulator (folds). */
function settle(fold: boolean, r: unknown, acc: unknown): { halt: boolean; acc: unknown } {
  if (r === 'stop') return { halt: true, acc };
  if (!fold) return { halt: false, acc };
  if (typeof r === 'object' && r !== null && Object.hasOwn(r, 'stop')) {
    return { halt: true, acc: (r as { stop: unknown }).stop };
  }
  return { halt: false, acc: r };
}
