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
import { type Logger, silentLogger } from '../Logger.ts';

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

/** One record a {@link capturingLogger} kept. */
export interface LoggedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Readonly<Record<string, unknown>>;
  readonly msg: string | undefined;
}

/** A logger that keeps every record in `lines` (no `child`: bindings are merged into `obj`). */
export function capturingLogger(lines: LoggedLine[]): Logger {
  const at =
    (level: LoggedLine['level']) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
export { type LoopbackCluster, loopbackCluster } from './loopbackCluster.ts';
