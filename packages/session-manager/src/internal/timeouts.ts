import type { Clock, TimerHandle } from '@otp-chat/actor';

/** Deadlines are grouped in buckets of this many milliseconds: one timer per bucket, not per call. */
const BUCKET_MS = 50;

interface Bucket {
  readonly timer: TimerHandle;
  readonly expire: Set<() => void>;
}

/**
 * Timeouts for promises without one timer per call: a deadline joins the bucket of its end
 * (rounded up to {@link BUCKET_MS}), and one clock timer per bucket fails every promise of the
 * bucket still pending. A promise never fails early and at most one bucket late.
 */
export class Timeouts {
  private readonly buckets = new Map<number, Bucket>();

  constructor(private readonly clock: Clock) {}

  /**
   * `promise`, or a rejection with `onTimeout()` when it has not settled within `ms`. The late
   * outcome of `promise` is ignored (its rejection is handled, never left unhandled).
   */
  within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
    if (!Number.isFinite(ms)) return promise;
    return new Promise<T>((resolve, reject) => {
      const expire = (): void => reject(onTimeout());
      const bucket = this.join(ms, expire);
      promise.then(
        (value) => {
          bucket.expire.delete(expire);
          resolve(value);
        },
        (error: unknown) => {
          bucket.expire.delete(expire);
          reject(error);
        },
      );
    });
  }

  private join(ms: number, expire: () => void): Bucket {
    const end = Math.ceil((this.clock.now() + ms) / BUCKET_MS);
    let bucket = this.buckets.get(end);
    if (bucket === undefined) {
      const timer = this.clock.setTimeout(
        () => {
          const b = this.buckets.get(end);
          this.buckets.delete(end);
          if (b !== undefined) for (const f of b.expire) f();
        },
        end * BUCKET_MS - this.clock.now(),
      );
      this.clock.unref?.(timer);
      bucket = { timer, expire: new Set() };
      this.buckets.set(end, bucket);
    }
    bucket.expire.add(expire);
    return bucket;
  }
}
