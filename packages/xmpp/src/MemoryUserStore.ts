import { randomBytes } from 'node:crypto';
import { DEFAULTS } from './DEFAULTS.ts';
import { RegisterError } from './errors.ts';
import {
  equalStrings,
  matchesScram,
  prepareNewPassword,
  prepareOfferedPassword,
} from './internal/passwords.ts';
import { type ScramCredentials, type ScramHash, scramCredentials } from './Scram.ts';
import type { PasswordFormat, UserStore } from './UserStore.ts';

interface Account {
  readonly password: string | undefined;
  /** SCRAM-SHA-1 keys: the only ones kept with the `scram` format. */
  scram: ScramCredentials | undefined;
  /** SCRAM-SHA-256 and -512 keys, derived from the password when first asked for. */
  stronger?: Partial<Record<ScramHash, ScramCredentials>>;
}

/** Options of a {@link MemoryUserStore}. */
export interface MemoryUserStoreOptions {
  /** @default 'plain' (ejabberd's default) */
  readonly passwordFormat?: PasswordFormat;
  /** @default DEFAULTS.scramIterations */
  readonly scramIterations?: number;
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
  /** Every SCRAM hash when the password is kept; SHA-1 only with the `scram` format. */
  readonly scramHashes: readonly ScramHash[];

  constructor(options: MemoryUserStoreOptions = {}) {
    this.format = options.passwordFormat ?? 'plain';
    this.iterations = options.scramIterations ?? DEFAULTS.scramIterations;
    this.scramHashes = this.format === 'plain' ? ['sha512', 'sha256', 'sha1'] : ['sha1'];
  }

  private account(luser: string, lserver: string): Account | undefined {
    return this.accounts.get(lserver)?.get(luser);
  }

  checkPassword(luser: string, lserver: string, password: string): boolean {
    const account = this.account(luser, lserver);
    if (account === undefined) return false;
    const prepared = prepareOfferedPassword(password);
    if (prepared === undefined) return false;
    if (account.password !== undefined) return equalStrings(account.password, prepared);
    const scram = account.scram!;
    return matchesScram(prepared, scram.salt, scram.iterations, scram.storedKey);
  }

  scramCredentials(luser: string, lserver: string, hash: ScramHash = 'sha1'): ScramCredentials | undefined {
    const account = this.account(luser, lserver);
    if (account === undefined) return undefined;
    if (hash === 'sha1') {
      account.scram ??= scramCredentials(account.password!, randomBytes(16), this.iterations);
      return account.scram;
    }
    if (account.password === undefined) return undefined;
    account.stronger ??= {};
    account.stronger[hash] ??= scramCredentials(account.password, randomBytes(16), this.iterations, hash);
    return account.stronger[hash];
  }

  userExists(luser: string, lserver: string): boolean {
    return this.account(luser, lserver) !== undefined;
  }

  register(luser: string, lserver: string, password: string): void {
    const prepared = prepareNewPassword(luser, lserver, password);
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
