import type { Clock } from '@otp-chat/actor';

/**
 * A connection's input shaper (ejabberd's `c2s_shaper`, `p1_shaper`): a token bucket of `burst`
 * bytes refilled at `rate` bytes per second. {@link update} takes the bytes just read and says
 * how long reading must pause for the bucket to be back at zero.
 */
export class Shaper {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.lastRefill = clock.now();
  }

  /** `p1_shaper:update/2`: takes `bytes` now; the milliseconds to pause reading (0: none). */
  update(bytes: number): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
    this.lastRefill = now;
    this.tokens -= bytes;
    return this.tokens < 0 ? Math.ceil((-this.tokens / this.rate) * 1000) : 0;
  }
}
