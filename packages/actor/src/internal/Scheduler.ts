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
  private queue: Process[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly budget: DrainBudget) {}

  /** Puts an actor on the run queue unless it is there, running, busy or dead. */
  enqueue(process: Process): void {
    if (process.inRunQueue) return;
    process.inRunQueue = true;
    this.queue.push(process);
    if (!this.scheduled) {
      this.scheduled = true;
      RESOLVED.then(this.run);
    }
  }

  private readonly run = (): void => {
    const { messages, ms, perActor } = this.budget;
    // Reading the clock costs ~50 ns: look at it only every CHECK_EVERY messages.
    let start = -1;
    let checkAt = CHECK_EVERY;
    let handled = 0;
    while (this.head < this.queue.length) {
      const process = this.queue[this.head]!;
      this.queue[this.head++] = undefined!;
      handled += process.drain(perActor);
      process.inRunQueue = false;
      if (process.isRunnable()) this.enqueue(process);
      if (handled >= checkAt) {
        checkAt = handled + CHECK_EVERY;
        const now = performance.now();
        if (start < 0) start = now;
        if (handled >= messages || now - start >= ms) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
          if (this.queue.length > 0) setImmediate(this.run);
          else this.scheduled = false;
          return;
        }
      }
    }
    this.queue.length = 0;
    this.head = 0;
    this.scheduled = false;
  };
}

const CHECK_EVERY = 256;
