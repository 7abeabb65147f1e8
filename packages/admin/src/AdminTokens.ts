import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '@otp-chat/event-bus';

/**
 * The callers a bearer token may stand for. `local` is the node's control token, the position of
 * ejabberdctl (every command, `restricted` ones included); `admin` a delegated administrator;
 * `user` one account. No token at all is `anonymous` (only `open` commands).
 */
export type TokenCaller = Exclude<Caller, { kind: 'anonymous' }>;

/**
 * Bearer tokens and the caller each stands for (ejabberd's `ejabberd_oauth` tokens, reduced to
 * static ones): a `local` token runs every command; an `admin` token runs `admin`, `user` and `open` commands; a `user` token runs
 * `user` commands on its own account (`user` and `host` injected) and `open` ones. Tokens are kept
 * as SHA-256 digests, so a lookup compares digests, never the secret byte by byte.
 */
export class AdminTokens {
  private readonly byDigest = new Map<string, TokenCaller>();

  /** A new random token (32 bytes, base64url), for a server that was given none. */
  static generate(): string {
    return randomBytes(32).toString('base64url');
  }

  /** Grants `token` the rights of `caller`. Throws `RangeError` for a token shorter than 16 characters. */
  add(token: string, caller: TokenCaller): this {
    if (token.length < 16) throw new RangeError('an admin token must be at least 16 characters');
    this.byDigest.set(digest(token), caller);
    return this;
  }

  /** Withdraws `token`; the next request with it gets 401. False when it was not known. */
  revoke(token: string): boolean {
    return this.byDigest.delete(digest(token));
  }

  /** The caller `token` stands for, or undefined for an unknown (or revoked) token. */
  callerOf(token: string): TokenCaller | undefined {
    return this.byDigest.get(digest(token));
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
