import { type Clock, systemClock } from '@otp-chat/actor';
import { DEFAULTS } from './DEFAULTS.ts';

/** Options of an {@link AuthThrottle}; every one defaults to `DEFAULTS.authThrottle`. */
export interface AuthThrottleOptions {
  /** Failures (per IP or per account) answered without delay. */
  readonly freeFailures?: number;
  /** The delay after the first failure past `freeFailures`; it doubles with each further one. */
  readonly baseDelayMs?: number;
  /** The longest delay. */
  readonly maxDelayMs?: number;
  /** Failures from one IP address that lock that address out (`c2s_max_auth_failures`). */
  readonly maxFailuresPerIp?: number;
  /** Failures for one account (from anywhere) that lock that account out. */
  readonly maxFailuresPerAccount?: number;
  /** How long a lockout lasts (`c2s_auth_ban_lifetime`). */
  readonly lockoutMs?: number;
  /** Failures are forgotten this long after the last one. */
  readonly windowMs?: number;
  /** Most addresses and accounts remembered; the least recently failed are forgotten first. */
  readonly maxEntries?: number;
  readonly clock?: Clock;
}

/** What a failure leads to. */
export interface AuthFailureOutcome {
  /** How long to wait before answering the failure. */
  readonly delayMs: number;
  readonly ipFailures: number;
  readonly accountFailures: number;
  /** Set when this failure locked the address or the account out. */
  readonly lockedOut: 'ip' | 'account' | undefined;
}

/** A lockout in force. */
export interface AuthLockout {
  readonly scope: 'ip' | 'account';
  /** Clock time (ms) when it ends. */
  readonly until: number;
  readonly failures: number;
}

interface Entry {
  failures: number;
  last: number;
  lockedUntil: number;
}

/**
 * Failed-authentication accounting, ejabberd's `mod_fail2ban` extended to accounts: failures are
 * counted per IP address and per account (prepared `user@server`, whether the account exists or
 * not, so a lockout tells nothing about existence). Past `freeFailures` each failure is answered
 * after an exponentially growing delay; `maxFailuresPerIp` failures lock the address out and
 * `maxFailuresPerAccount` lock the account out for `lockoutMs`: a locked stream start is refused
 * and a locked login fails without the password being checked, the right one included. A success
 * forgets the account's failures, not the address's (an attacker's own account must not clear his
 * address). Memory is bounded by `maxEntries`.
 */
export class AuthThrottle {
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxPerIp: number;
  private readonly maxPerAccount: number;
  private readonly lockoutMs: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();

  constructor(options: AuthThrottleOptions = {}) {
    const d = DEFAULTS.authThrottle;
    this.freeFailures = options.freeFailures ?? d.freeFailures;
    this.baseDelayMs = options.baseDelayMs ?? d.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? d.maxDelayMs;
    this.maxPerIp = options.maxFailuresPerIp ?? d.maxFailuresPerIp;
    this.maxPerAccount = options.maxFailuresPerAccount ?? d.maxFailuresPerAccount;
    this.lockoutMs = options.lockoutMs ?? d.lockoutMs;
    this.windowMs = options.windowMs ?? d.windowMs;
    this.maxEntries = options.maxEntries ?? d.maxEntries;
    this.clock = options.clock ?? systemClock;
  }

  /** A throttle that never delays nor locks (for tests of other things). */
  static disabled(): AuthThrottle {
    return new AuthThrottle({
      freeFailures: Number.POSITIVE_INFINITY,
      maxFailuresPerIp: Number.POSITIVE_INFINITY,
      maxFailuresPerAccount: Number.POSITIVE_INFINITY,
    });
  }

  /** Entries remembered (addresses and accounts). */
  get size(): number {
    return this.entries.size;
  }

  /** The lockout in force for this address (and this account, when given), if any. */
  lockout(ip: string, account?: string): AuthLockout | undefined {
    const now = this.clock.now();
    const byIp = this.live(`ip ${ip}`, now);
    if (byIp !== undefined && byIp.lockedUntil > now) {
      return { scope: 'ip', until: byIp.lockedUntil, failures: byIp.failures };
    }
    if (account === undefined) return undefined;
    const byAccount = this.live(`account ${account}`, now);
    if (byAccount !== undefined && byAccount.lockedUntil > now) {
      return { scope: 'account', until: byAccount.lockedUntil, failures: byAccount.failures };
    }
    return undefined;
  }

  /**
   * Records a failed authentication and says how long to wait before answering it. Without an
   * account (an abort, a name that could not be read) only the address is counted.
   */
  failed(ip: string, account?: string): AuthFailureOutcome {
    const now = this.clock.now();
    const byIp = this.bump(`ip ${ip}`, now);
    const byAccount =
      account === undefined
        ? { failures: 0, last: now, lockedUntil: 0 }
        : this.bump(`account ${account}`, now);
    let lockedOut: 'ip' | 'account' | undefined;
    if (byIp.failures >= this.maxPerIp && byIp.lockedUntil <= now) {
      byIp.lockedUntil = now + this.lockoutMs;
      lockedOut = 'ip';
    }
    if (byAccount.failures >= this.maxPerAccount && byAccount.lockedUntil <= now) {
      byAccount.lockedUntil = now + this.lockoutMs;
      lockedOut ??= 'account';
    }
    const over = Math.max(byIp.failures, byAccount.failures) - this.freeFailures;
    const delayMs = over <= 0 ? 0 : Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over - 1, 30));
    return { delayMs, ipFailures: byIp.failures, accountFailures: byAccount.failures, lockedOut };
  }

  /** Resolves after `ms` on the throttle's clock (the delay before a failure is answered). */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  /** A successful authentication: the account's failures are forgotten. */
  succeeded(_ip: string, account: string): void {
    this.entries.delete(`account ${account}`);
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.lockedUntil <= now && now - e.last > this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private bump(key: string, now: number): Entry {
    let e = this.live(key, now);
    if (e === undefined) e = { failures: 0, last: now, lockedUntil: 0 };
    else this.entries.delete(key); // re-inserted below: the map stays in least-recent-first order
    e.failures++;
    e.last = now;
    this.entries.set(key, e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return e;
  }
}
