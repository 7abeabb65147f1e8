/**
 * Every default of `@otp-chat/actor`, in one place. Where OTP has the same knob, the value is OTP's.
 */
export const DEFAULTS = {
  /** Node name of an `ActorSystem` (Erlang's `nonode@nohost` when distribution is off). */
  node: 'nonode@nohost',
  /** `call` timeout in ms: gen_server's 5000. */
  callTimeoutMs: 5000,
  /**
   * Tick of the call-timeout wheel, in ms: a call times out no earlier than its timeout and about
   * two ticks later at most on an idle event loop. Not an OTP setting (BEAM's timer wheel has its
   * own granularity); the price of reading no clock and arming no timer per call.
   */
  callTimerTickMs: 10,
  /**
   * When the scheduler yields to the event loop: after this many messages across all actors or this
   * many ms, whichever comes first. Not an OTP setting (BEAM pre-empts by reductions).
   */
  drainBudget: { messages: 20_000, ms: 5, perActor: 128 },
} as const;
