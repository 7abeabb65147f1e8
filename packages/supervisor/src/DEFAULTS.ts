/**
 * Every default of `@otp-chat/supervisor`, in one place. The values are OTP's (`supervisor.erl`,
 * `-define(default_flags, …)` and `-define(default_child_spec, …)`) unless said otherwise.
 */
export const DEFAULTS = {
  /** `strategy`: OTP's `one_for_one`. */
  strategy: 'one_for_one',
  /** `intensity` (MaxR): at most this many restarts within `period`. OTP's 1. */
  intensity: 1,
  /**
   * `period` (MaxT) in **seconds**, as OTP: OTP's 5. The window is OTP's: restart times are
   * truncated to whole seconds of the clock and the window is inclusive (`R >= Now - Period`).
   */
  period: 5,
  /** `autoShutdown`: OTP's `never`. */
  autoShutdown: 'never',
  /** `restart` of a child spec: OTP's `permanent`. */
  restart: 'permanent',
  /** `type` of a child spec: OTP's `worker`. */
  type: 'worker',
  /** `shutdown` of a worker child, in ms: OTP's 5000. */
  workerShutdownMs: 5000,
  /** `shutdown` of a supervisor child: OTP's `infinity`. */
  supervisorShutdown: 'infinity',
  /** `significant` of a child spec: OTP's `false`. */
  significant: false,
  /**
   * Restart backoff (**not OTP**, an opt-in extension): off unless `backoff` is given. When on,
   * the delay before restart n (n counted within the intensity window) is
   * `min(maxMs, initialMs * factor^(n-1))`.
   */
  backoff: { initialMs: 100, factor: 2, maxMs: 10_000 },
  /** `Application`: listen to SIGINT and SIGTERM. */
  handleSignals: true,
  /** `Application`: exit code used when a second signal arrives during a graceful stop (128 + SIGINT). */
  forcedExitCode: 130,
} as const;
