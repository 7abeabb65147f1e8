/**
 * `otp-chat-ctl`'s exit codes, one meaning each, for scripts (ejabberdctl's convention where it
 * has one: 0 done, 1 failed, 3 node unreachable).
 */
export const EXIT = {
  /** The command ran. */
  ok: 0,
  /** The command ran and failed (HTTP 500), or did not finish in time (504). */
  failed: 1,
  /** Bad usage: unknown command (404), bad arguments (400), unknown option. */
  usage: 2,
  /** The node could not be reached (ejabberdctl's "Failed RPC connection"). */
  unreachable: 3,
  /** No token, or the token was refused (401, 403). */
  unauthorized: 4,
} as const;
