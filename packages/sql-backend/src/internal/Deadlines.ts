/** A statement in flight, with what to do if it outlives its deadline. */
export interface InFlight {
  expire(): void;
}

/** Generations a deadline passes through: the timer ticks every `timeoutMs / STEPS`. */
const STEPS = 4;

/**
 * Timeouts for many operations with one timer instead of one `setTimeout` each: generations of
 * operations, rotated every `timeoutMs / 4`; an operation still in flight when its generation has
 * been rotated out (after five rotations) has been in flight for at least `timeoutMs`, and at most
 * a quarter more, and is expired. Never early, at most `1.25 × timeoutMs` (plus the timer's own
 * lateness on a busy loop). Adding and settling are `Set` insertions and deletions (a statement
 * usually settles in the newest generation); the timer runs only while something is in flight, and
 * never keeps the process alive.
 */
export class Deadlines {
  /** Newest first; the last one expires at the next rotation. */
  private readonly generations: Set<InFlight>[] = Array.from({ length: STEPS + 1 }, () => new Set());
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly timeoutMs: number) {}

  add(f: InFlight): void {
    this.generations[0]!.add(f);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.rotate(), this.timeoutMs / STEPS);
      this.timer.unref?.();
    }
  }

  /** True the first time for `f` (it had not expired): the caller settles it. */
  settle(f: InFlight): boolean {
    for (const g of this.generations) if (g.delete(f)) return true;
    return false;
  }

  private rotate(): void {
    const expired = this.generations.pop()!;
    this.generations.unshift(new Set());
    for (const f of expired) f.expire();
    if (this.generations.every((g) => g.size === 0) && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
