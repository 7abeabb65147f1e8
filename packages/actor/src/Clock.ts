/**
 * Time as the runtime sees it. Every timer in otp-chat (call timeouts, shutdown timeouts,
 * restart-intensity windows, backoff) goes through a `Clock`, so tests use {@link SimulatedClock}
 * and never sleep.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Lets the process exit while this timer is armed (Node's `timeout.unref()`); optional. */
  unref?(handle: TimerHandle): void;
  /** Undoes `unref` (Node's `timeout.ref()`); optional. */
  ref?(handle: TimerHandle): void;
}

/** Whatever `setTimeout` returned; opaque. */
export type TimerHandle = unknown;

/** The real clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  unref: (handle) => void (handle as ReturnType<typeof setTimeout>).unref(),
  ref: (handle) => void (handle as ReturnType<typeof setTimeout>).ref(),
};

interface SimulatedTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every due timer in time order
 * (ties in creation order), each at its own instant, including timers that fired callbacks create.
 */
export class SimulatedClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: SimulatedTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: SimulatedTimer = {
      at: this.current + Math.max(0, ms),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle && typeof handle === 'object') (handle as SimulatedTimer).cancelled = true;
  }

  /** Number of timers that are armed and not cancelled. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = next.at;
      next.callback();
    }
    this.current = target;
  }

  private nextDue(limit: number): SimulatedTimer | undefined {
    this.timers = this.timers.filter((t) => !t.cancelled);
    let best: SimulatedTimer | undefined;
    for (const t of this.timers) {
      if (t.at <= limit && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  }
}
