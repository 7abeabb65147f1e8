import { SimulatedClock } from '@otp-chat/actor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../src/AuthThrottle.ts';

const OPTIONS = {
  freeFailures: 2,
  baseDelayMs: 100,
  maxDelayMs: 1600,
  maxFailuresPerIp: 6,
  maxFailuresPerAccount: 4,
  lockoutMs: 5000,
  windowMs: 3000,
};

/** The reference model: per key, failures since the window last reset, last failure, lock end. */
class Model {
  private readonly keys = new Map<string, { failures: number; last: number; until: number }>();
  now = 0;

  private live(key: string) {
    const e = this.keys.get(key);
    if (e === undefined) return undefined;
    if (e.until <= this.now && this.now - e.last > OPTIONS.windowMs) {
      this.keys.delete(key);
      return undefined;
    }
    return e;
  }

  private bump(key: string) {
    const e = this.live(key) ?? { failures: 0, last: 0, until: 0 };
    e.failures++;
    e.last = this.now;
    this.keys.set(key, e);
    return e;
  }

  failed(ip: string, account: string) {
    const i = this.bump(`ip ${ip}`);
    const a = this.bump(`account ${account}`);
    let lockedOut: 'ip' | 'account' | undefined;
    if (i.failures >= OPTIONS.maxFailuresPerIp && i.until <= this.now) {
      i.until = this.now + OPTIONS.lockoutMs;
      lockedOut = 'ip';
    }
    if (a.failures >= OPTIONS.maxFailuresPerAccount && a.until <= this.now) {
      a.until = this.now + OPTIONS.lockoutMs;
      lockedOut ??= 'account';
    }
    const over = Math.max(i.failures, a.failures) - OPTIONS.freeFailures;
    const delayMs = over <= 0 ? 0 : Math.min(OPTIONS.maxDelayMs, OPTIONS.baseDelayMs * 2 ** (over - 1));
    return { delayMs, ipFailures: i.failures, accountFailures: a.failures, lockedOut };
  }

  lockout(ip: string, account: string): 'ip' | 'account' | undefined {
    const i = this.live(`ip ${ip}`);
    if (i !== undefined && i.until > this.now) return 'ip';
    const a = this.live(`account ${account}`);
    if (a !== undefined && a.until > this.now) return 'account';
    return undefined;
  }

  succeeded(account: string) {
    this.keys.delete(`account ${account}`);
  }
}

type Op =
  | { op: 'fail'; ip: string; account: string }
  | { op: 'ok'; account: string }
  | { op: 'check'; ip: string; account: string }
  | { op: 'wait'; ms: number };

const ip = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3');
const account = fc.constantFrom('alice@x', 'bob@x', 'carol@x');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('fail' as const), ip, account }),
  fc.record({ op: fc.constant('ok' as const), account }),
  fc.record({ op: fc.constant('check' as const), ip, account }),
  fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 4000 }) }),
);

describe('AuthThrottle', () => {
  it('agrees with a reference model on random sequences of failures, successes, checks and waits (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const clock = new SimulatedClock(0);
        const throttle = new AuthThrottle({ ...OPTIONS, clock });
        const model = new Model();
        for (const o of ops) {
          if (o.op === 'wait') {
            clock.advance(o.ms);
            model.now += o.ms;
          } else if (o.op === 'fail') {
            expect(throttle.failed(o.ip, o.account)).toEqual(model.failed(o.ip, o.account));
          } else if (o.op === 'ok') {
            throttle.succeeded('10.0.0.1', o.account);
            model.succeeded(o.account);
          } else {
            expect(throttle.lockout(o.ip, o.account)?.scope).toBe(model.lockout(o.ip, o.account));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('remembers at most maxEntries addresses and accounts (an attacker with many names cannot grow it)', () => {
    const throttle = new AuthThrottle({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) throttle.failed(`ip-${i}`, `user-${i}@x`);
    expect(throttle.size).toBe(100);
  });

  it('disabled() never delays nor locks', () => {
    const throttle = AuthThrottle.disabled();
    for (let i = 0; i < 1000; i++) expect(throttle.failed('1.2.3.4', 'a@x').delayMs).toBe(0);
    expect(throttle.lockout('1.2.3.4', 'a@x')).toBeUndefined();
  });
});
