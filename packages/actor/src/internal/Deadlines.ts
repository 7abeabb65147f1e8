import type { Clock, TimerHandle } from '../Clock.ts';
import type { PendingCall } from './PendingCall.ts';

interface Bucket {
  items: PendingCall[];
  head: number;
}

/**
 * Call timeouts without a `setTimeout` per call: one FIFO per distinct timeout value (deadlines in
 * one FIFO are in order, because the clock is monotonic), and a single clock timer armed for the
 * earliest live deadline. Answered calls are skipped lazily and compacted away; once no call is
 * outstanding the timer is cleared and the FIFOs dropped, so an answered call never keeps the
 * event loop alive until its old deadline.
 */
export class Deadlines {
  private readonly buckets = new Map<number, Bucket>();
  private armedAt = Number.POSITIVE_INFINITY;
  private handle: TimerHandle | undefined;
  /** Calls added and not yet done. */
  private live = 0;
  private firing = false;

  constructor(private readonly clock: Clock) {}

  add(call: PendingCall): void {
    const timeout = call.timeoutMs;
    call.deadline = this.clock.now() + timeout;
    call.deadlines = this;
    this.live++;
    let bucket = this.buckets.get(timeout);
    if (!bucket) {
      bucket = { items: [], head: 0 };
      this.buckets.set(timeout, bucket);
    }
    const items = bucket.items;
    // Drop answered calls from the front: calls mostly finish in the order they were made.
    while (bucket.head < items.length && items[bucket.head]!.done) items[bucket.head++] = undefined!;
    if (bucket.head === items.length) {
      items.length = 0;
      bucket.head = 0;
    } else if (bucket.head > 1024 && bucket.head * 2 > items.length) {
      bucket.items = items.slice(bucket.head);
      bucket.head = 0;
    } else if (items.length - bucket.head > 4096 && (items.length & 4095) === 0) {
      // A long-pending call at the front pins answered ones behind it: filter them out now and then.
      bucket.items = items.slice(bucket.head).filter((c) => !c.done);
      bucket.head = 0;
    }
    bucket.items.push(call);
    if (call.deadline < this.armedAt) this.arm(call.deadline);
  }

  /** A call that was added is done (answered, expired or failed). */
  release(): void {
    if (--this.live > 0 || this.firing) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.buckets.clear();
  }

  private arm(at: number): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()));
  }

  private readonly fire = (): void => {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.firing = true;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [timeout, bucket] of this.buckets) {
      const items = bucket.items;
      while (bucket.head < items.length) {
        const call = items[bucket.head]!;
        if (!call.done && call.deadline > now) break;
        items[bucket.head++] = undefined!;
        call.expire();
      }
      if (bucket.head === items.length) this.buckets.delete(timeout);
      else next = Math.min(next, items[bucket.head]!.deadline);
    }
    this.firing = false;
    if (this.live === 0) this.buckets.clear();
    else if (next !== Number.POSITIVE_INFINITY && next < this.armedAt) this.arm(next);
  };
}
