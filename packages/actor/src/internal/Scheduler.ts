import type { Process } from './Process.ts';

const RESOLVED = Promise.resolve();

/** How long the scheduler may run before it yields to the event loop. */
export interface DrainBudget {
  /** Messages handled across all actors before a yield. */
  readonly messages: number;
  /** Milliseconds of handling before a yield. */
  readonly ms: number;
  /** Messages one actor handles before the next runnable actor gets its turn. */
  readonly perActor: number;
}

/**
 * The run queue: actors with messages, drained round-robin in one microtask, `perActor` messages
 * per turn. After `messages` messages or `ms` milliseconds it yields with `setImmediate`, so socket
 * I/O and timers run between batches (Erlang gets this from reduction counting; Node's microtask
 * queue would otherwise starve the poll phase).
 */
export class Scheduler {
  // The run queue is a growable ring buffer: no array is shrunk or copied on the hot path.
  private ring: Array<Process | undefined> = new Array(64);
  private mask = 63;
  private head = 0;
  private size = 0;
  private scheduled = false;

  constructor(
    private readonly budget: DrainBudget,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Puts an actor on the run queue unless it is there, running, busy or dead. */
  enqueue(process: Process): void {
    if (process.inRunQueue) return;
    process.inRunQueue = true;
    if (this.size > this.mask) this.grow();
    this.ring[(this.head + this.size) & this.mask] = process;
    this.size++;
    if (!this.scheduled) {
      this.scheduled = true;
      RESOLVED.then(this.run);
    }
  }

  private grow(): void {
    const next = new Array<Process | undefined>(this.ring.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.ring[(this.head + i) & this.mask];
    this.ring = next;
    this.mask = next.length - 1;
    this.head = 0;
  }

  private readonly run = (): void => {
    const { messages, ms, perActor } = this.budget;
    // Reading the clock costs ~50 ns: look at it only every CHECK_EVERY messages.
    let start = -1;
    let checkAt = CHECK_EVERY;
    let handled = 0;
    while (this.size > 0) {
      const process = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) & this.mask;
      this.size--;
      try {
        handled += process.drain(perActor);
      } catch (error) {
        // Callbacks' errors are caught by the actor itself; what reaches here came from the
        // runtime's own hooks (a throwing logger, say). Keep the other actors running.
        this.onError(error);
        handled++;
      }
      process.inRunQueue = false;
      if (process.isRunnable()) this.enqueue(process);
      if (handled >= checkAt) {
        checkAt = handled + CHECK_EVERY;
        const now = performance.now();
        if (start < 0) start = now;
        if (handled >= messages || now - start >= ms) {
          if (this.size > 0) setImmediate(this.run);
          else this.scheduled = false;
          return;
        }
      }
    }
    this.scheduled = false;
  };
}

const CHECK_EVERY = 256;
