import { quoteSchema } from './schema.ts';

/** The statements `SqlBackend` sends, for one schema. Every value is a `$n` parameter. */
export interface SmStatements {
  /** The `LISTEN`/`NOTIFY` channel of this schema's invalidations: `otp_chat_sm_<schema>`. */
  readonly channel: string;
  /**
   * ejabberd's `?SQL_UPSERT` on `(usec, pid)`, the invalidation, and the user's rows as they are
   * after it (which refresh this node's cache: the session manager reads them right after), in one
   * statement: `$1`…`$8` the row (`encodeSmRow`; `$4` username, `$5` server_host), `$9` the
   * channel, `$10` the payload.
   */
  readonly set: string;
  /**
   * Delete by `(usec, pid)` (`$1`, `$2`), the invalidation when a row went (`$3` channel, `$4`
   * payload), and the user's remaining rows (`$5` server_host, `$6` username), in one statement.
   */
  readonly delete: string;
  /** A user's rows: `$1` server_host, `$2` username (the `(server_host, username)` index). */
  readonly user: string;
  /** A host's rows: `$1` server_host. */
  readonly server: string;
  /**
   * One clean-up batch, its own short transaction: at most `$2` rows of node `$1` deleted and
   * returned; the invalidation (`$3` channel, `$4` payload) is sent only when rows went.
   */
  readonly clean: string;
  /** Whether node `$1`'s store-loss marker is there (a row, or none). */
  readonly marker: string;
  /** Writes node `$1`'s store-loss marker (`$2` its incarnation). */
  readonly mark: string;
}

/**
 * The sender part of the notification that `TRUNCATE sm` sends (its trigger, migration 2):
 * `truncated\n*`. Never a backend's instance id (those are UUIDs).
 */
export const TRUNCATED_SENDER = 'truncated';

const COLUMNS = 'usec, pid, node, username, server_host, resource, priority, info';

/**
 * The statements for the `sm` table of `schema` (checked by `quoteSchema`). Exported so that the
 * benchmark's bare-driver baseline runs exactly these.
 */
export function smStatements(schema: string): SmStatements {
  const t = `${quoteSchema(schema)}.sm`;
  return {
    channel: `otp_chat_sm_${schema}`,
    set: `WITH w AS (
            INSERT INTO ${t} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (usec, pid) DO UPDATE SET node = EXCLUDED.node, username = EXCLUDED.username,
              server_host = EXCLUDED.server_host, resource = EXCLUDED.resource,
              priority = EXCLUDED.priority, info = EXCLUDED.info
            RETURNING ${COLUMNS}, pg_notify($9, $10) AS notified)
          SELECT ${COLUMNS} FROM ${t}
            WHERE server_host = $5 AND username = $4 AND NOT (usec = $1 AND pid = $2)
          UNION ALL SELECT ${COLUMNS} FROM w`,
    delete: `WITH d AS (DELETE FROM ${t} WHERE usec = $1 AND pid = $2 RETURNING pg_notify($3, $4) AS notified)
             SELECT ${COLUMNS} FROM ${t}
               WHERE server_host = $5 AND username = $6 AND NOT (usec = $1 AND pid = $2)`,
    user: `SELECT ${COLUMNS} FROM ${t} WHERE server_host = $1 AND username = $2`,
    server: `SELECT ${COLUMNS} FROM ${t} WHERE server_host = $1`,
    clean: `WITH v AS (SELECT usec, pid FROM ${t} WHERE node = $1 LIMIT $2),
                 d AS (DELETE FROM ${t} t USING v WHERE t.usec = v.usec AND t.pid = v.pid
                       RETURNING t.usec, t.pid, t.node, t.username, t.server_host, t.resource, t.priority, t.info)
            SELECT d.*, (SELECT pg_notify($3, $4)) AS notified FROM d`,
    marker: `SELECT 1 AS present FROM ${quoteSchema(schema)}.otp_chat_sm_node WHERE node = $1`,
    mark: `INSERT INTO ${quoteSchema(schema)}.otp_chat_sm_node (node, incarnation) VALUES ($1, $2)
           ON CONFLICT (node) DO UPDATE SET incarnation = EXCLUDED.incarnation, marked_at = now()`,
  };
}
