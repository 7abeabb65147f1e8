import type { MaybePromise } from '@otp-chat/actor';
import type { ScramCredentials, ScramHash } from './Scram.ts';

/**
 * Accounts, ejabberd's `ejabberd_auth` as the C2S uses it. User and server names are passed
 * prepared (nodeprep / nameprep); passwords raw (the store applies SASLprep).
 */
export interface UserStore {
  /** A short name for logs (`'memory'`, `'redis'`). */
  readonly name: string;
  /** SASL PLAIN: true when `password` is the user's password (false for an unknown user). */
  checkPassword(luser: string, lserver: string, password: string): MaybePromise<boolean>;
  /**
   * SASL SCRAM: the stored keys for `hash` (SHA-1 when omitted), `undefined` for an unknown user.
   * Only asked for the hashes of {@link scramHashes}.
   */
  scramCredentials(
    luser: string,
    lserver: string,
    hash?: ScramHash,
  ): MaybePromise<ScramCredentials | undefined>;
  /**
   * The SCRAM hashes the store has keys for (ejabberd's `auth_scram_hash`): the server offers
   * only those mechanisms. @default ['sha1']
   */
  readonly scramHashes?: readonly ScramHash[];
  /** `ejabberd_auth:user_exists/2`. */
  userExists(luser: string, lserver: string): MaybePromise<boolean>;
  /** `ejabberd_auth:try_register/3`: rejects with `RegisterError('exists')` for a taken name. */
  register(luser: string, lserver: string, password: string): MaybePromise<void>;
  /** `ejabberd_auth:remove_user/2`: false when there was no such user. */
  removeUser(luser: string, lserver: string): MaybePromise<boolean>;
  /** Registered user names of `lserver`, sorted. */
  users(lserver: string): MaybePromise<string[]>;
}

/**
 * How passwords are kept (ejabberd's `auth_password_format`). `plain` (ejabberd's default) keeps
 * the SASLprep'd password, so PLAIN is a string comparison and SCRAM keys are derived once and
 * cached; `scram` keeps only the SCRAM keys, so PLAIN costs one PBKDF2 per login.
 */
export type PasswordFormat = 'plain' | 'scram';
