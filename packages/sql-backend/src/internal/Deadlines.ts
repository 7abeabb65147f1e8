/** A statement in flight, with what to do if it outlives its deadline. */
export interface InFlight {
  expire(): void;
}

/**
 * Timeouts for many operations with one timer instead of one `setTimeout` each: two generations,
 * rotated every `timeoutMs`; what is still in the older generation at a rotation has been in flight
 * for at least `timeoutMs` (at most twice that) and is expired. Adding and settling are a `Set`
 * insertion and deletion; the timer runs only while something is in flight, and never keeps the
 * process alive.
 */
export class Deadlines {
  private current = new Set<InFlight>();
  private previous = new Set<InFlight>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly timeoutMs: number) {}

  add(f: InFlight): void {
    this.current.add(f);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.rotate(), this.timeoutMs);
      this.timer.unref?.();
    }
  }

  /** True the first time for `f` (it had not expired): the caller settles it. */
  settle(f: InFlight): boolean {
    return this.current.delete(f) || this.previous.delete(f);
  }

  private rotate(): void {
    const expired = this.previous;
    this.previous = this.current;
    this.current = new Set();
    for (const f of expired) f.expire();
    if (this.previous.size === 0 && this.current.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
