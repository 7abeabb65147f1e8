/**
 * Why an actor ended: OTP's exit reasons as a discriminated union.
 *
 * | OTP | otp-chat |
 * |---|---|
 * | `normal` | `'normal'` |
 * | `shutdown` | `'shutdown'` |
 * | `{shutdown, Term}` | `{ shutdown: term }` |
 * | `kill` (sent with `exit/2`; untrappable) | `'kill'` |
 * | `killed` | `'killed'` |
 * | `noproc` | `'noproc'` |
 * | `noconnection` (the other node is down) | `'noconnection'` |
 * | `{Reason, Stack}` from a crash | `{ error: thrown }` |
 * | any other term given to `exit/2` or `{stop, R, S}` | `{ exit: term }` |
 */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | { readonly shutdown: unknown }
  | 'kill'
  | 'killed'
  | 'noproc'
  | 'noconnection'
  | { readonly error: unknown }
  | { readonly exit: unknown };

/** `normal`, `shutdown` or `{ shutdown: _ }`: the reasons that are not logged as crashes. */
export function isCleanExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || (typeof reason === 'object' && 'shutdown' in reason);
}

/** A short human-readable form of a reason for logs and error messages. */
export function formatReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if ('error' in reason) {
    const e = reason.error;
    return `{error: ${e instanceof Error ? `${e.name}: ${e.message}` : safeString(e)}}`;
  }
  if ('shutdown' in reason) return `{shutdown: ${safeString(reason.shutdown)}}`;
  return `{exit: ${safeString(reason.exit)}}`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
