import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const impl = require('saslprep') as (input: string, options?: { allowUnassigned?: boolean }) => string;

/**
 * SASLprep (RFC 4013) of a user name or password, as a stored string. Throws on prohibited
 * characters (the caller answers `not-authorized`).
 */
export function saslprep(input: string): string {
  return impl(input);
}
