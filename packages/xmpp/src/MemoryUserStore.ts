import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULTS } from './DEFAULTS.ts';
import { RegisterError } from './errors.ts';
import { saslprep } from './internal/saslprep.ts';
import { type ScramCredentials, scramCredentials } from './ScramSha1.ts';
import type { PasswordFormat, UserStore } from './UserStore.ts';

interface Account {
  readonly password: string | undefined;
  scram: ScramCredentials | undefined;
}

/** Options of a {@link MemoryUserStore}. */
export interface MemoryUserStoreOptions {
  /** @default 'plain' (ejabberd's default) */
  readonly passwordFormat?: PasswordFormat;
  /** @default DEFAULTS.scramIterations */
  readonly scramIterations?: number;
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The in-process user store (ejabberd's internal auth in a RAM table). The default store of the
 * example server. Synchronous.
 */
export class MemoryUserStore implements UserStore {
  readonly name = 'memory';
  private readonly accounts = new Map<string, Map<string, Account>>();
  private readonly format: PasswordFormat;
  private readonly iterations: number;

  constructor(options: MemoryUserStoreOptions = {}) {
    this.format = options.passwordFormat ?? 'plain';
    this.iterations = options.scramIterations ?? DEFAULTS.scramIterations;
  }

  private account(luser: string, lserver: string): Account | undefined {
    return this.accounts.get(lserver)?.get(luser);
  }

  checkPassword(luser: string, lserver: string, password: string): boolean {
    const account = this.account(luser, lserver);
    if (account === undefined) return false;
    let prepared: string;
    try {
      prepared = saslprep(password);
    } catch {
      return false;
    }
    if (account.password !== undefined) return equalStrings(account.password, prepared);
    const scram = account.scram!;
    const derived = scramCredentials(prepared, scram.salt, scram.iterations);
    return timingSafeEqual(derived.storedKey, scram.storedKey);
  }

  scramCredentials(luser: string, lserver: string): ScramCredentials | undefined {
    const account = this.account(luser, lserver);
    if (account === undefined) return undefined;
    account.scram ??= scramCredentials(account.password!, randomBytes(16), this.iterations);
    return account.scram;
  }

  userExists(luser: string, lserver: string): boolean {
    return this.account(luser, lserver) !== undefined;
  }

  register(luser: string, lserver: string, password: string): void {
    if (luser === '') throw new RegisterError('invalid-user', luser, lserver);
    let prepared: string;
    try {
      prepared = saslprep(password);
    } catch (cause) {
      throw new RegisterError('invalid-password', luser, lserver, { cause });
    }
    if (prepared === '') throw new RegisterError('invalid-password', luser, lserver);
    let users = this.accounts.get(lserver);
    if (users === undefined) {
      users = new Map();
      this.accounts.set(lserver, users);
    }
    if (users.has(luser)) throw new RegisterError('exists', luser, lserver);
    users.set(
      luser,
      this.format === 'plain'
        ? { password: prepared, scram: undefined }
        : { password: undefined, scram: scramCredentials(prepared, randomBytes(16), this.iterations) },
    );
  }

  removeUser(luser: string, lserver: string): boolean {
    return this.accounts.get(lserver)?.delete(luser) ?? false;
  }

  users(lserver: string): string[] {
    return [...(this.accounts.get(lserver)?.keys() ?? [])].sort();
  }
}
