import { Heap } from 'mnemonist';
import type { Clock, TimerHandle } from '../Clock.ts';
import type { PendingCall } from './PendingCall.ts';

/** The calls of one timeout value, oldest first: a growable ring buffer. */
interface Bucket {
  readonly timeout: number;
  /** Whether an entry for this bucket is in the heap. */
  queued: boolean;
  ring: Array<PendingCall | undefined>;
  mask: number;
  head: number;
  size: number;
}

function front(bucket: Bucket): PendingCall {
  return bucket.ring[bucket.head]!;
}

function shift(bucket: Bucket): PendingCall {
  const call = bucket.ring[bucket.head]!;
  bucket.ring[bucket.head] = undefined;
  bucket.head = (bucket.head + 1) & bucket.mask;
  bucket.size--;
  return call;
}

function push(bucket: Bucket, call: PendingCall): void {
  if (bucket.size > bucket.mask) {
    // Full. Answered calls pinned behind a long-pending one are dropped here, so the ring only
    // grows when live calls need the room.
    const live: PendingCall[] = [];
    for (let i = 0; i < bucket.size; i++) {
      const c = bucket.ring[(bucket.head + i) & bucket.mask]!;
      if (!c.done) live.push(c);
    }
    const capacity = live.length * 2 > bucket.ring.length ? bucket.ring.length * 2 : bucket.ring.length;
    bucket.ring = new Array(capacity);
    for (let i = 0; i < live.length; i++) bucket.ring[i] = live[i];
    bucket.mask = capacity - 1;
    bucket.head = 0;
    bucket.size = live.length;
  }
  bucket.ring[(bucket.head + bucket.size) & bucket.mask] = call;
  bucket.size++;
}

/**
 * Call timeouts without a `setTimeout` per call: one FIFO per distinct timeout value (deadlines in
 * one FIFO are in order, because the clock is monotonic), and a single clock timer armed for the
 * earliest live deadline. Answered calls are skipped lazily and compacted away.
 *
 * The timer is `unref`'d, so an answered call never keeps the process alive until its old deadline
 * and no timer is set or cleared per call. When Node is about to exit (`beforeExit`) while calls
 * are still waiting, the timer is `ref`'d again: those calls then time out as gen_server's would
 * instead of being abandoned.
 */
export class Deadlines {
  private readonly buckets = new Map<number, Bucket>();
  /**
   * Buckets by the deadline of their oldest call (a lower bound: answered calls are dropped from
   * the front lazily), so that a timer fire touches only buckets with something due, however many
   * distinct timeouts are in use.
   */
  private readonly due = new Heap<{ at: number; bucket: Bucket }>((a, b) => a.at - b.at);
  private armedAt = Number.POSITIVE_INFINITY;
  private handle: TimerHandle | undefined;
  private lastTimeout = Number.NaN;
  private lastBucket: Bucket | undefined;
  /** Calls added and not yet done. */
  private live = 0;
  /** Its entry in the `beforeExit` watch list, once armed on a clock that can `unref`. */
  watchedBy: WeakRef<Deadlines> | undefined;

  constructor(private readonly clock: Clock) {}

  add(call: PendingCall): void {
    const timeout = call.timeoutMs;
    call.deadline = this.clock.now() + timeout;
    call.deadlines = this;
    this.live++;
    // Nearly every call uses one timeout (the 5000 ms default): remember its bucket.
    let bucket = timeout === this.lastTimeout ? this.lastBucket : this.buckets.get(timeout);
    if (bucket === undefined) {
      bucket = { timeout, queued: false, ring: new Array(16), mask: 15, head: 0, size: 0 };
      this.buckets.set(timeout, bucket);
    }
    this.lastTimeout = timeout;
    this.lastBucket = bucket;
    // Drop answered calls from the front: calls mostly finish in the order they were made.
    while (bucket.size > 0 && front(bucket).done) shift(bucket);
    push(bucket, call);
    if (!bucket.queued) {
      bucket.queued = true;
      this.due.push({ at: front(bucket).deadline, bucket });
    }
    if (call.deadline < this.armedAt) this.arm(call.deadline);
  }

  /** A call that was added is done (answered, expired or failed). */
  release(): void {
    this.live--;
  }

  private arm(at: number): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()));
    if (this.clock.unref !== undefined) {
      this.clock.unref(this.handle);
      watchExit(this);
    }
  }

  /** Called on `beforeExit`: keeps the process alive for calls still waiting on a deadline. */
  holdForWaitingCalls(): void {
    if (this.live > 0 && this.handle !== undefined) this.clock.ref?.(this.handle);
  }

  private readonly fire = (): void => {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    while (this.due.size > 0 && this.due.peek()!.at <= now) {
      const entry = this.due.pop()!;
      const bucket = entry.bucket;
      while (bucket.size > 0) {
        const call = front(bucket);
        if (!call.done && call.deadline > now) break;
        shift(bucket);
        call.expire();
      }
      if (bucket.size === 0) {
        bucket.queued = false;
        this.buckets.delete(bucket.timeout);
        if (bucket === this.lastBucket) this.lastBucket = undefined;
      } else {
        entry.at = front(bucket).deadline;
        this.due.push(entry);
      }
    }
    if (this.live === 0) {
      this.due.clear();
      this.buckets.clear();
      this.lastBucket = undefined;
    } else if (this.due.size > 0) this.arm(this.due.peek()!.at);
  };
}

// One `beforeExit` listener for every system, installed on first use (not one per system).
const watched = new Set<WeakRef<Deadlines>>();
let listening = false;

function watchExit(deadlines: Deadlines): void {
  if (deadlines.watchedBy !== undefined) return;
  deadlines.watchedBy = new WeakRef(deadlines);
  watched.add(deadlines.watchedBy);
  if (listening) return;
  listening = true;
  process.on('beforeExit', () => {
    for (const ref of watched) {
      const d = ref.deref();
      if (d === undefined) watched.delete(ref);
      else d.holdForWaitingCalls();
    }
  });
}
