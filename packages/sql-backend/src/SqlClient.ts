import { type Logger, silentLogger } from '@otp-chat/actor';
import postgres from 'postgres';
import { DEFAULTS } from './DEFAULTS.ts';
import { BackendUnavailableError, SqlCommandError, SqlTimeoutError } from './errors.ts';
import { isUnavailableError, sqlStateOf } from './internal/classify.ts';
import { Deadlines, type InFlight } from './internal/Deadlines.ts';

/** A statement parameter. Every value goes to PostgreSQL as a parameter, never into the text. */
export type SqlValue = string | number | boolean | null;

/** One result row, columns by name. */
export type SqlRow = Record<string, unknown>;

/** Runs parameterised statements; what {@link SqlClient} and its transactions offer. */
export interface SqlQueryable {
  /**
   * Runs `text` (with `$1`, `$2` … placeholders) as a prepared statement with `params`, and
   * resolves with the rows. Rejects with `BackendUnavailableError` when the database cannot be
   * reached in time, `SqlCommandError` when it answers with an error.
   */
  query<R = SqlRow>(operation: string, text: string, params?: readonly SqlValue[]): Promise<R[]>;
}

/** Options of {@link SqlClient}; every field defaults to {@link DEFAULTS}. */
export interface SqlClientOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url?: string;
  /** The name in errors and logs. @default 'sql' */
  readonly name?: string;
  readonly poolSize?: number;
  readonly queryTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** First delay before a connection of the pool is attempted again; doubled up to `reconnectMaxMs`. */
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly logger?: Logger;
}

/**
 * A pool of PostgreSQL connections (the `postgres` driver, which pipelines statements on each
 * connection and prepares each statement once per connection), with what a session store needs
 * on top: every statement parameterised and prepared, every call bounded by `queryTimeoutMs`
 * (then cancelled), and every failure typed: `BackendUnavailableError` when the database is
 * unreachable, restarting or too slow, `SqlCommandError` when it answers with an error.
 *
 * One client can serve several stores on one database: `SqlBackend` (sessions) and the XMPP
 * package's `SqlUserStore` (accounts).
 */
export class SqlClient implements SqlQueryable {
  readonly name: string;
  readonly url: string;
  private readonly sql: postgres.Sql;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly deadlines: Deadlines;
  private ended = false;

  constructor(options: SqlClientOptions = {}) {
    this.name = options.name ?? 'sql';
    this.url = options.url ?? DEFAULTS.url;
    this.timeoutMs = options.queryTimeoutMs ?? DEFAULTS.queryTimeoutMs;
    this.deadlines = new Deadlines(this.timeoutMs);
    this.logger = options.logger ?? silentLogger;
    const initial = options.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs;
    const max = options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs;
    this.sql = postgres(this.url, {
      // The driver's own backoff grows to 20 s: a pool would sit idle that long after an outage.
      backoff: (retries: number) => Math.min(initial * 2 ** Math.min(retries, 20), max) / 1000,
      max: options.poolSize ?? DEFAULTS.poolSize,
      connect_timeout: (options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs) / 1000,
      prepare: true,
      // Types are the built-in ones: no catalogue round trip at each connection.
      fetch_types: false,
      onnotice: (notice) =>
        this.logger.debug({ client: this.name, notice: notice.message }, 'postgres notice'),
      connection: { application_name: 'otp-chat' },
    });
  }

  query<R = SqlRow>(operation: string, text: string, params: readonly SqlValue[] = []): Promise<R[]> {
    if (this.ended) return Promise.reject(new BackendUnavailableError(this.name, operation));
    return this.run(this.sql, operation, text, params) as Promise<R[]>;
  }

  /**
   * Runs `body` in one transaction (`BEGIN` … `COMMIT`, `ROLLBACK` when it throws) on one
   * connection; the whole transaction is bounded by `queryTimeoutMs` per statement.
   */
  async transaction<T>(operation: string, body: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.ended) throw new BackendUnavailableError(this.name, operation);
    try {
      return (await this.sql.begin(async (tx) => {
        const q: SqlQueryable = {
          query: <R = SqlRow>(op: string, text: string, params: readonly SqlValue[] = []) =>
            this.run(tx, op, text, params) as Promise<R[]>,
        };
        return body(q);
      })) as T;
    } catch (error) {
      throw this.typed(operation, error);
    }
  }

  /** Closes every connection, waiting at most `timeoutMs` for statements in flight. */
  async end(timeoutMs = 1000): Promise<void> {
    this.ended = true;
    await this.sql.end({ timeout: timeoutMs / 1000 });
  }

  /** Maps any failure to the typed errors (a typed error passes through). */
  typed(operation: string, error: unknown): Error {
    if (error instanceof BackendUnavailableError || error instanceof SqlCommandError) return error;
    if (error instanceof Error && error.name !== 'PostgresError' && !('code' in error)) {
      // Thrown by the caller's own code inside a transaction: not the database's business.
      return error;
    }
    if (isUnavailableError(error)) return new BackendUnavailableError(this.name, operation, { cause: error });
    return new SqlCommandError(this.name, operation, sqlStateOf(error), { cause: error });
  }

  private run(
    sql: postgres.Sql | postgres.TransactionSql,
    operation: string,
    text: string,
    params: readonly SqlValue[],
  ): Promise<SqlRow[]> {
    let pending: postgres.PendingQuery<postgres.Row[]>;
    try {
      pending = sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
    } catch (error) {
      return Promise.reject(this.typed(operation, error));
    }
    return new Promise<SqlRow[]>((resolve, reject) => {
      const flight: InFlight = {
        expire: () => {
          // Cancels a running statement on the server, or drops a queued one (best effort).
          try {
            void Promise.resolve(pending.cancel()).catch(() => {});
          } catch {}
          reject(
            new BackendUnavailableError(this.name, operation, {
              cause: new SqlTimeoutError(operation, this.timeoutMs),
            }),
          );
        },
      };
      this.deadlines.add(flight);
      pending.then(
        (rows) => {
          if (this.deadlines.settle(flight)) resolve(rows as unknown as SqlRow[]);
        },
        (error: unknown) => {
          if (this.deadlines.settle(flight)) reject(this.typed(operation, error));
        },
      );
    });
  }
}
