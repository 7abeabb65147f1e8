import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const impl = require('saslprep') as (input: string, options?: { allowUnassigned?: boolean }) => string;

/**
 * SASLprep (RFC 4013) of a user name or password, as a stored string. Throws on prohibited
 * characters (the caller answers `not-authorized`).
 */
export function saslprep(input: string): string {
  // Printable ASCII is left unchanged by every SASLprep step (no mapping, NFKC is the identity,
  // nothing prohibited, no RandALCat), so the common case skips the table walk.
  return PRINTABLE_ASCII.test(input) ? input : impl(input);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
