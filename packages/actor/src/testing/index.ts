/**
 * `@otp-chat/actor/testing`: what every package's tests need to drive actors deterministically.
 *
 * ```ts
 * import { flush, testSystem } from '@otp-chat/actor/testing';
 * const { system, clock } = testSystem();
 * clock.advance(5000); // fires call timeouts, shutdown timers, … without sleeping
 * await flush();
 * ```
 */
import { ActorSystem } from '../ActorSystem.ts';
import { SimulatedClock } from '../Clock.ts';
import { silentLogger } from '../Logger.ts';

export { eventually } from './eventually.ts';

/** An `ActorSystem` on a `SimulatedClock`, logging off. */
export function testSystem(node = 'test@local'): { system: ActorSystem; clock: SimulatedClock } {
  const clock = new SimulatedClock();
  return { system: new ActorSystem({ node, clock, logger: silentLogger }), clock };
}

/** Lets every pending microtask and one macrotask turn run (the scheduler yields with `setImmediate`). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
