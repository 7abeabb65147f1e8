// Password handling shared by every user store: SASLprep on the way in, constant-time comparison
// on the way out, whether the store keeps the password or only its SCRAM keys.
import { timingSafeEqual } from 'node:crypto';
import { RegisterError } from '../errors.ts';
import { scramCredentials } from '../Scram.ts';
import { saslprep } from './saslprep.ts';

/** SASLprep of a password being registered; an empty or unpreparable one is a `RegisterError`. */
export function prepareNewPassword(luser: string, lserver: string, password: string): string {
  if (luser === '') throw new RegisterError('invalid-user', luser, lserver);
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch (cause) {
    throw new RegisterError('invalid-password', luser, lserver, { cause });
  }
  if (prepared === '') throw new RegisterError('invalid-password', luser, lserver);
  return prepared;
}

/** SASLprep of a password offered at login; `undefined` when it cannot be prepared (a wrong one). */
export function prepareOfferedPassword(password: string): string | undefined {
  try {
    return saslprep(password);
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two strings. */
export function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `prepared` matches stored SCRAM keys (RFC 5802: same salt and iterations give the same StoredKey). */
export function matchesScram(prepared: string, salt: Buffer, iterations: number, storedKey: Buffer): boolean {
  const derived = scramCredentials(prepared, salt, iterations);
  return derived.storedKey.length === storedKey.length && timingSafeEqual(derived.storedKey, storedKey);
}
