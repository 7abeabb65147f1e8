import { DEFAULTS as SM_DEFAULTS } from '@otp-chat/session-manager';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../src/DEFAULTS.ts';
import { Deadlines } from '../../src/internal/Deadlines.ts';

// One timer for every statement's timeout (SqlClient): never early, at most a quarter late, so that
// the default queryTimeoutMs answers before the session manager's own bound on every backend call.
describe('Deadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** When each of `offsets` (ms after the first add) expires, with a 1000 ms timeout. */
  function expiries(offsets: readonly number[]): number[] {
    const deadlines = new Deadlines(1000);
    const start = Date.now();
    const at: number[] = offsets.map(() => -1);
    const adds = offsets.map((offset, i) => ({ offset, i })).sort((a, b) => a.offset - b.offset);
    let elapsed = 0;
    for (const { offset, i } of adds) {
      vi.advanceTimersByTime(offset - elapsed);
      elapsed = offset;
      deadlines.add({ expire: () => (at[i] = Date.now() - start - offset) });
    }
    vi.advanceTimersByTime(3000);
    return at;
  }

  it.each([[[0]], [[1]], [[249]], [[250]], [[251]], [[0, 100, 200, 300, 999, 1000, 1001, 1499]]])(
    'operations added at %j ms expire after at least 1000 ms and at most 1250 ms',
    (offsets) => {
      for (const waited of expiries(offsets)) {
        expect(waited).toBeGreaterThanOrEqual(1000);
        expect(waited).toBeLessThanOrEqual(1250);
      }
    },
  );

  it('settle is true once for an operation still in flight, false after it expired', () => {
    const deadlines = new Deadlines(1000);
    let expired = 0;
    const a = { expire: () => expired++ };
    const b = { expire: () => expired++ };
    deadlines.add(a);
    deadlines.add(b);
    vi.advanceTimersByTime(600); // a and b are in an older generation now
    expect(deadlines.settle(a)).toBe(true);
    expect(deadlines.settle(a)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(expired).toBe(1);
    expect(deadlines.settle(b)).toBe(false);
  });

  it('runs no timer when nothing is in flight', () => {
    const deadlines = new Deadlines(1000);
    const a = { expire: () => {} };
    deadlines.add(a);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.settle(a);
    vi.advanceTimersByTime(1250);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the default queryTimeoutMs, a quarter late at most, still fires before the session manager’s backendTimeoutMs', () => {
    expect(DEFAULTS.queryTimeoutMs * 1.25).toBeLessThan(SM_DEFAULTS.backendTimeoutMs);
  });
});
