import type { Clock, Logger, MaybePromise } from '@otp-chat/actor';
import type { Session } from './Session.ts';

/**
 * What `cleanNode` answers: the removed rows (at once, or as a promise), or an async iterable of
 * batches of them, which a backend whose store may hold many rows of a node should prefer: the
 * session manager runs the hooks of each batch before it asks for the next, so neither side holds
 * every row at once.
 */
export type CleanNodeResult = MaybePromise<readonly Session[]> | AsyncIterable<readonly Session[]>;

/** What a backend's `init` receives. */
export interface BackendInitContext {
  /** This node's name (`node()`): the one written into the sids this node makes. */
  readonly node: string;
  /**
   * The virtual hosts that use this backend when it starts (`get_vh_by_backend/1`); a host added
   * at run time is announced with {@link Backend.hostUp}.
   */
  readonly hosts: readonly string[];
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Identifies one run of the session manager on this node: every `init` within that run (a
   * backend actor restarted by the backend supervisor) gets the same value, the next start of the
   * session manager a new one (the Redis and SQL backends write it into their store-loss
   * markers). `init` deletes no rows, whatever the incarnation: this node's leftovers are removed
   * by the session manager's start through `cleanNode(node)`, with their hooks, never on a restart
   * within one run (the rows of live connections). Absent when `init` is called by hand.
   */
  readonly incarnation?: string;
  /**
   * Tells the session manager that the store lost this node's rows while the node kept running
   * (a Redis restarted empty, a fresh PostgreSQL database): the session manager then has its
   * live local connections write their rows again (`SessionManager#reregisterLocalSessions`). Absent when `init` is called by
   * hand.
   */
  readonly storeLost?: () => void;
}

/**
 * The session store contract, ejabberd's `ejabberd_sm` backend behaviour (its `-callback`s), plus
 * the node clean-up ejabberd only has for mnesia (`ejabberd_sm_mnesia`'s `mnesia_down` handler). Every backend runs the conformance
 * suite of `@otp-chat/session-manager/testing`.
 *
 * - Rows are {@link Session}s, immutable; `setSession` is an **upsert keyed by sid** (the same sid
 *   overwrites the row, whatever else changed).
 * - `deleteSession` removes the row with that sid, and only that row (delete by exact key, never
 *   by user or resource: esl/MongooseIM#4788). Deleting a missing row is not an error.
 * - Reads return every row, duplicates for one resource included: de-duplication ("newest sid
 *   wins") is the session manager's job.
 * - A failure is a thrown error or a rejected promise, never an empty answer: the session manager
 *   reports it (`backend_error`) and never caches it as "no sessions".
 * - Methods may answer synchronously (the memory backend) or with a promise (Redis, SQL). The
 *   session manager keeps the routing hot path synchronous when they do.
 * - The session manager calls `init` from the backend's actor, under the backend supervisor, then
 *   `cleanNode(ownNode)` to drop rows a previous run of this node left behind, and `stop` at an
 *   orderly shut-down. When the backend actor crashes, the supervisor restarts it and `init` runs
 *   **again without `stop` in between**, with the same `incarnation`: `init` must be re-entrant,
 *   and the store (owned by the backend object, as mnesia owns its tables) keeps its rows, this
 *   node's included (they belong to live connections).
 */
export interface Backend {
  /** A short name for logs and `backend_error` events (`'memory'`, `'redis'`). */
  readonly name: string;
  /**
   * Prepares the store (`Mod:init()`). Throwing or rejecting fails the session manager's start with
   * that reason.
   */
  init(context: BackendInitContext): MaybePromise<void>;
  /** Writes the row, replacing any row with the same sid (`set_session/1`). */
  setSession(session: Session): MaybePromise<void>;
  /** Removes the row with `session.sid` (`delete_session/1`). */
  deleteSession(session: Session): MaybePromise<void>;
  /** Every row of every host using this backend (`get_sessions/0`). */
  getSessions(): MaybePromise<readonly Session[]>;
  /** Every row of the virtual host `lserver` (`get_sessions/1`). */
  getSessions(lserver: string): MaybePromise<readonly Session[]>;
  /** Every row of the user `luser@lserver` (`get_sessions/2`); fails rather than answer `[]` on error. */
  getSessions(luser: string, lserver: string): MaybePromise<readonly Session[]>;
  /**
   * Removes every row whose connection lives on `node` and returns the removed rows, so that the
   * session manager can run the session-removed hooks for them: all at once, or (better for a big
   * store) as an async iterable of bounded batches, each removed before it is yielded. Used at
   * start-up for this node's leftovers and when a cluster node goes down. A failure is a throw or
   * rejection (of the call or of the iteration); the rows yielded before it stay removed.
   */
  cleanNode(node: string): CleanNodeResult;
  /**
   * Whether the session manager should cache per-user reads for `lserver` (`use_cache/1`).
   * @default false when absent (ejabberd defaults to the `sm_use_cache` option instead)
   */
  useCache?(lserver: string): boolean;
  /**
   * A virtual host starts using this running backend (`host_up`, a host added at run time; a
   * backend that no host used yet is started instead, with the host in `init`'s `hosts`). A backend
   * that lists a host's rows by its own list of hosts (Redis) adds it.
   */
  hostUp?(lserver: string): MaybePromise<void>;
  /** A virtual host stops using this backend (`host_down`, a host removed at run time). */
  hostDown?(lserver: string): MaybePromise<void>;
  /** Releases resources (connections, timers) at shut-down. */
  stop?(): MaybePromise<void>;
}
