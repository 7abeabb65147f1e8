import type { Caller } from '@otp-chat/event-bus';
import type { AdminTokens } from './AdminTokens.ts';

/** Who a request is: its token's caller, `anonymous` without a token, `invalid` for a bad one. */
export type Authentication = { readonly caller: Caller } | { readonly invalid: string };

const ANONYMOUS: Caller = { kind: 'anonymous' };

/**
 * The caller of an `Authorization` header (RFC 6750 section 2.1 `Bearer`): none is `anonymous`,
 * an unknown or revoked token or another scheme is `invalid` (a 401, whatever the command).
 */
export function authenticate(tokens: AdminTokens, header: string | undefined): Authentication {
  if (header === undefined || header === '') return { caller: ANONYMOUS };
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (match === null) return { invalid: 'expected "Authorization: Bearer <token>"' };
  const caller = tokens.callerOf(match[1]!);
  return caller === undefined ? { invalid: 'unknown or revoked token' } : { caller };
}
