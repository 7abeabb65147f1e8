import type { Clock, TimerHandle } from '../Clock.ts';
import type { PendingCall } from './PendingCall.ts';

/** Slots of the wheel: with the default 10 ms tick, a horizon of 10.24 s (beyond it: overflow). */
const SLOTS = 1024;
const MASK = SLOTS - 1;
/** A slot is swept of answered calls each time its length reaches a multiple of this. */
const SWEEP_EVERY = 4096;

/**
 * Call timeouts as a coarse timer wheel: no clock read and no timer per call, one ticker for the
 * whole system while calls wait (the reference's "coarse timer wheel, armed lazily").
 *
 * A call made during tick `e` is due at tick `e + ceil(timeout / tick) + 1`. Ticks are counted, not
 * computed from the clock: each tick fires at least `tick` ms after the previous one, so a call never
 * times out early, and at most about two ticks late on an idle loop (later when the loop is busy),
 * as Erlang's own timers. Answered calls stay in their slot until it comes round or is swept.
 *
 * The ticker is `unref`'d, so waiting calls alone never keep the process alive, and `ref`'d again at
 * `beforeExit` while calls still wait, so those time out as gen_server's would instead of being
 * abandoned. It stops at the first tick with nothing waiting.
 */
export class Deadlines {
  private epoch = 0;
  private readonly slots: Array<PendingCall[] | undefined> = new Array(SLOTS);
  /** Calls due beyond the wheel's horizon; moved into the wheel as it turns. */
  private overflow: PendingCall[] = [];
  private handle: TimerHandle | undefined;
  /** Calls added and not yet done. */
  private live = 0;
  /** Its entry in the `beforeExit` watch list, once armed on a clock that can `unref`. */
  watchedBy: WeakRef<Deadlines> | undefined;

  constructor(
    private readonly clock: Clock,
    /** Milliseconds per tick. */
    private readonly tickMs: number,
  ) {}

  add(call: PendingCall): void {
    const due = this.epoch + Math.ceil(call.timeoutMs / this.tickMs) + 1;
    call.deadline = due;
    call.deadlines = this;
    this.live++;
    if (due - this.epoch < SLOTS) this.place(call, due);
    else this.overflow.push(call);
    if (this.handle === undefined) this.arm();
  }

  /** A call that was added is done (answered, expired or failed). */
  release(): void {
    this.live--;
  }

  private place(call: PendingCall, due: number): void {
    const index = due & MASK;
    let slot = this.slots[index];
    if (slot === undefined) {
      slot = [];
      this.slots[index] = slot;
    }
    slot.push(call);
    // Calls answered long before their deadline pile up in the slot of the current window: sweep.
    if (slot.length % SWEEP_EVERY === 0) {
      let kept = 0;
      for (let i = 0; i < slot.length; i++) if (!slot[i]!.done) slot[kept++] = slot[i]!;
      slot.length = kept;
    }
  }

  private arm(): void {
    this.handle = this.clock.setTimeout(this.tick, this.tickMs);
    if (this.clock.unref !== undefined) {
      this.clock.unref(this.handle);
      watchExit(this);
    }
  }

  /** Called on `beforeExit`: keeps the process alive for calls still waiting on a deadline. */
  holdForWaitingCalls(): void {
    if (this.live > 0 && this.handle !== undefined) this.clock.ref?.(this.handle);
  }

  private readonly tick = (): void => {
    this.handle = undefined;
    const epoch = ++this.epoch;
    const slot = this.slots[epoch & MASK];
    if (slot !== undefined) {
      this.slots[epoch & MASK] = undefined;
      for (let i = 0; i < slot.length; i++) slot[i]!.expire(); // a no-op for answered calls
    }
    if (this.overflow.length > 0 && (epoch & (SLOTS / 2 - 1)) === 0) {
      const later: PendingCall[] = [];
      for (const call of this.overflow) {
        if (call.done) continue;
        if (call.deadline - epoch < SLOTS) this.place(call, call.deadline);
        else later.push(call);
      }
      this.overflow = later;
    }
    if (this.live > 0) {
      this.arm();
      return;
    }
    // Nothing waits: drop what answered calls left behind and stop ticking until the next call.
    this.slots.fill(undefined);
    this.overflow = [];
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
