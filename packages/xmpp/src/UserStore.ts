import type { MaybePromise } from '@otp-chat/actor';
import type { ScramCredentials } from './ScramSha1.ts';

/**
 * Accounts, ejabberd's `ejabberd_auth` as the C2S uses it. User and server names are passed
 * prepared (nodeprep / nameprep); passwords raw (the store applies SASLprep).
 */
export interface UserStore {
  /** A short name for logs (`'memory'`, `'redis'`). */
  readonly name: string;
  /** SASL PLAIN: true when `password` is the user's password (false for an unknown user). */
  checkPassword(luser: string, lserver: string, password: string): MaybePromise<boolean>;
  /** SASL SCRAM-SHA-1: the stored keys, `undefined` for an unknown user. */
  scramCredentials(luser: string, lserver: string): MaybePromise<ScramCredentials | undefined>;
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
