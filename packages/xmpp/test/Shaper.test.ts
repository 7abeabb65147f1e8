import { SimulatedClock } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { Shaper } from '../src/internal/Shaper.ts';

describe('Shaper (p1_shaper: a token bucket)', () => {
  // rate 1000 B/s, burst 500 B: [ms to advance, bytes read, pause expected]
  const steps: [number, number, number][] = [
    [0, 400, 0], // within the burst
    [0, 100, 0], // exactly empties it
    [0, 1, 1], // one byte over: 1 ms to earn it back (rounded up)
    [0, 99, 100], // 100 bytes owed: 100 ms
    [100, 0, 0], // 100 ms later the debt is paid
    [10_000, 600, 100], // the bucket refills to the burst only: 500 - 600 = -100
    [50, 0, 50], // half of it earned back
  ];
  it('pauses exactly as long as the bytes over the bucket take at the rate', () => {
    const clock = new SimulatedClock();
    const shaper = new Shaper(1000, 500, clock);
    const pauses: number[] = [];
    for (const [ms, bytes] of steps) {
      clock.advance(ms);
      pauses.push(shaper.update(bytes));
    }
    expect(pauses).toEqual(steps.map(([, , pause]) => pause));
  });
});
