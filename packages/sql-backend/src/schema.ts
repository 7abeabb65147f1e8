import { DatabaseEncodingError, SchemaTooNewError, SqlValueError } from './errors.ts';
import type { SqlClient } from './SqlClient.ts';

/** One step of a component's schema, applied once, in version order. */
export interface Migration {
  /** 1, 2, 3 …: the version the schema is at once this step has run. */
  readonly version: number;
  readonly description: string;
  /** The DDL, for the (already quoted) schema name `s`. */
  statements(s: string): readonly string[];
}

/** The tables of one part of otp-chat (`sm`, `users`), versioned on their own. */
export interface SchemaComponent {
  readonly name: string;
  /** In version order, from 1, without gaps. */
  readonly migrations: readonly Migration[];
}

/** What {@link migrate} did. */
export interface MigrationResult {
  readonly component: string;
  /** The version found (0: the component was never migrated here). */
  readonly from: number;
  /** The version now (the newest this code knows). */
  readonly to: number;
}

/**
 * The session table, ejabberd's `sm` (`sql/pg.new.sql`, `ejabberd_sm_sql:sql_schemas/0`): the same
 * columns, primary key and indexes, so that a database laid out by ejabberd is accepted as it is.
 * What otp-chat writes into `pid` and `info` is its own (see `smRow.ts`).
 */
export const SM_SCHEMA: SchemaComponent = Object.freeze({
  name: 'sm',
  migrations: Object.freeze([
    {
      version: 1,
      description:
        "ejabberd's sm table, primary key (usec, pid), indexes on node and (server_host, username)",
      statements: (s: string) => [
        `CREATE TABLE IF NOT EXISTS ${s}.sm (
           usec bigint NOT NULL,
           pid text NOT NULL,
           node text NOT NULL,
           username text NOT NULL,
           server_host text NOT NULL,
           resource text NOT NULL,
           priority text NOT NULL,
           info text NOT NULL,
           PRIMARY KEY (usec, pid))`,
        `CREATE INDEX IF NOT EXISTS i_sm_node ON ${s}.sm USING btree (node)`,
        `CREATE INDEX IF NOT EXISTS i_sm_sh_username ON ${s}.sm USING btree (server_host, username)`,
      ],
    },
    {
      version: 2,
      description:
        'store-loss markers: one row per running node in otp_chat_sm_node, emptied (and every node notified) when sm is truncated',
      // Not ejabberd's: how a node that stayed up learns that the database lost its rows (a fresh
      // database, a restore, a TRUNCATE), so that its live connections write them again.
      statements: (s: string) => [
        `CREATE TABLE IF NOT EXISTS ${s}.otp_chat_sm_node (
           node text PRIMARY KEY,
           incarnation text NOT NULL,
           marked_at timestamptz NOT NULL DEFAULT now())`,
        `CREATE OR REPLACE FUNCTION ${s}.otp_chat_sm_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           DELETE FROM ${s}.otp_chat_sm_node;
           PERFORM pg_notify('otp_chat_sm_' || TG_TABLE_SCHEMA, 'truncated' || chr(10) || '*');
           RETURN NULL;
         END $$`,
        `DROP TRIGGER IF EXISTS otp_chat_sm_truncated ON ${s}.sm`,
        `CREATE TRIGGER otp_chat_sm_truncated AFTER TRUNCATE ON ${s}.sm
           FOR EACH STATEMENT EXECUTE FUNCTION ${s}.otp_chat_sm_truncated()`,
      ],
    },
  ]),
});

/**
 * The account table, ejabberd's `users` (`sql/pg.new.sql`, `ejabberd_auth_sql:sql_schemas/0`,
 * version 2: one row per stored password type, `type` 1 plain, 2 SCRAM-SHA-1, 3 SCRAM-SHA-256,
 * 4 SCRAM-SHA-512). Used by `@otp-chat/xmpp`'s `SqlUserStore`.
 */
export const USERS_SCHEMA: SchemaComponent = Object.freeze({
  name: 'users',
  migrations: Object.freeze([
    {
      version: 1,
      description: "ejabberd's users table (multi password types), primary key (server_host, username, type)",
      statements: (s: string) => [
        `CREATE TABLE IF NOT EXISTS ${s}.users (
           username text NOT NULL,
           server_host text NOT NULL,
           "type" smallint NOT NULL,
           "password" text NOT NULL,
           serverkey text NOT NULL DEFAULT '',
           salt text NOT NULL DEFAULT '',
           iterationcount integer NOT NULL DEFAULT 0,
           created_at timestamp NOT NULL DEFAULT now(),
           PRIMARY KEY (server_host, username, "type"))`,
      ],
    },
  ]),
});

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * Checks a schema name and returns it quoted for use in statements. Identifiers cannot be
 * parameters, so only lower-case letters, digits and `_` are accepted (at most 48 characters);
 * anything else is a {@link SqlValueError}, never text spliced into SQL.
 */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new SqlValueError('schema', `${JSON.stringify(schema)} is not [a-z_][a-z0-9_]{0,47}`);
  }
  return `"${schema}"`;
}

/** Rejects with {@link DatabaseEncodingError} unless the database stores text as UTF-8. */
export async function checkEncoding(client: SqlClient): Promise<void> {
  const [row] = await client.query<{ encoding: string }>(
    'checkEncoding',
    "SELECT current_setting('server_encoding') AS encoding",
  );
  const encoding = row?.encoding ?? 'unknown';
  if (encoding !== 'UTF8') throw new DatabaseEncodingError(encoding);
}

/**
 * Brings `component`'s tables in `schema` to the newest version this code knows: idempotent (a
 * second run finds the version and does nothing), versioned (`<schema>.otp_chat_schema` holds one
 * row per component), and safe when several nodes start at once (one transaction under an advisory
 * lock per schema: the others wait, then find the work done). Creates the schema if needed.
 *
 * Rejects with {@link SchemaTooNewError} (changing nothing) when the database is at a newer version,
 * with `BackendUnavailableError` when it cannot be reached.
 */
export async function migrate(
  client: SqlClient,
  schema: string,
  component: SchemaComponent,
): Promise<MigrationResult> {
  const s = quoteSchema(schema);
  const known = component.migrations.length;
  component.migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`${component.name}: migration ${i} has version ${m.version}`);
  });
  return client.transaction('migrate', async (tx) => {
    await tx.query('migrate', 'SELECT pg_advisory_xact_lock(hashtext($1))', [`otp-chat-schema:${schema}`]);
    const exists = await tx.query('migrate', 'SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.length === 0) await tx.query('migrate', `CREATE SCHEMA ${s}`);
    await tx.query(
      'migrate',
      `CREATE TABLE IF NOT EXISTS ${s}.otp_chat_schema (
         component text PRIMARY KEY,
         version integer NOT NULL,
         migrated_at timestamptz NOT NULL DEFAULT now())`,
    );
    const [row] = await tx.query<{ version: number }>(
      'migrate',
      `SELECT version FROM ${s}.otp_chat_schema WHERE component = $1`,
      [component.name],
    );
    const from = row?.version ?? 0;
    if (from > known) throw new SchemaTooNewError(schema, component.name, from, known);
    for (const m of component.migrations) {
      if (m.version <= from) continue;
      for (const statement of m.statements(s)) await tx.query('migrate', statement);
    }
    if (from < known) {
      await tx.query(
        'migrate',
        `INSERT INTO ${s}.otp_chat_schema (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`,
        [component.name, known],
      );
    }
    return { component: component.name, from, to: known };
  });
}
