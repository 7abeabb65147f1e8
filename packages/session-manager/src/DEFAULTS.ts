/**
 * The defaults of `@otp-chat/session-manager`, each with its ejabberd counterpart (ejabberd's option of that name).
 */
export const DEFAULTS = Object.freeze({
  /** Registered name of the session manager actor (ejabberd registers `ejabberd_sm`). */
  name: 'session_manager',
  /**
   * `replaced_connection_timeout`: how long `openSession` waits for replaced sessions to end.
   * 0 means don't wait. Same as ejabberd (1 s).
   */
  replacedConnectionTimeoutMs: 1000,
  /**
   * `max_user_sessions`: unlimited, as ejabberd's option default (its example config sets 10). Only
   * an integer is a limit; any other number (`Infinity`, `NaN`, `1.5`) means unlimited, as
   * `get_max_user_sessions/2` treats a non-integer.
   */
  maxUserSessions: Number.POSITIVE_INFINITY,
  /**
   * Longest wait for any backend call (read, write, delete, node clean-up) before it fails with
   * `BackendTimeoutError`. ejabberd has no such bound (a frozen Redis blocks its callers for
   * eredis' 5 s call timeout, mnesia has none); here a frozen store costs each caller at most this.
   */
  backendTimeoutMs: 3000,
  /**
   * How long a command waits for a connection to answer `get_presence` or `set_presence`
   * (`ejabberd_c2s:get_presence/1` and `set_presence/2` call with 1 s, as here).
   */
  connectionCallTimeoutMs: 1000,
  /** The reason sent to a removed user's connections (`disconnect_removed_user/2`). */
  userRemovedReason: 'User removed',
  /**
   * The backend supervisor (ejabberd's `ejabberd_backend_sup`, a child of `ejabberd_sup`): `one_for_one`, at most
   * `intensity` restarts in `period` seconds (ejabberd: 10 per 1 s), each backend actor a
   * `transient` worker stopped within `workerShutdownMs` (ejabberd's `ejabberd_sm_mnesia`: 5000).
   */
  backendSupervisor: Object.freeze({ intensity: 10, period: 1, workerShutdownMs: 5000 }),
  /**
   * The session manager's own supervisor, `rest_for_one` over the backend supervisor and the
   * session manager's actor (ejabberd's `ejabberd_sup`, which holds `ejabberd_backend_sup` and
   * `ejabberd_sm` as siblings: 10 restarts per 1 s). A crash of the actor restarts the actor
   * alone, so the session store outlives it; the backend supervisor giving up restarts both.
   */
  supervisor: Object.freeze({ intensity: 10, period: 1 }),
  /**
   * Shutdown of the session manager's own child spec (`SessionManager#childSpec`): ejabberd's
   * `ejabberd_sup` gives its workers 1 minute.
   */
  shutdownMs: 60_000,
  /**
   * `cleanNode`: rows whose removal hooks run between two turns of the event loop (routing goes on
   * meanwhile). Not an ejabberd setting (it runs no hooks for a dead node's rows).
   */
  cleanBatchSize: 500,
  /** Hook sequence numbers ejabberd_sm registers with (`ejabberd_sm:init/1`, `host_up/1`). */
  hookSeq: Object.freeze({
    hostUp: 50,
    hostDown: 60,
    rosterInSubscription: 20,
    offlineMessageHook: 100,
    bounceSmPacket: 100,
    removeUser: 100,
  }),
});
