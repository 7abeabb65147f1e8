import {
  migrate,
  quoteSchema,
  type SchemaComponent,
  DEFAULTS as SQL_DEFAULTS,
  type SqlClient,
} from '@otp-chat/sql-backend';
import type { ModuleStore } from './ModuleStore.ts';

/** Options of a {@link SqlModuleStore}. */
export interface SqlModuleStoreOptions {
  /** The PostgreSQL schema of the tables. @default 'public' */
  readonly schema?: string;
}

/**
 * The module tables: `mod_kv` (a user's maps: roster items, roster version, blocklist) and
 * `mod_list` (a user's lists: offline messages, in insertion order by `id`). Not ejabberd's
 * per-module tables (`rosterusers`, `spool`, `privacy_list`…): one layout for every module.
 */
export const MODULE_SCHEMA: SchemaComponent = Object.freeze({
  name: 'mod',
  migrations: Object.freeze([
    {
      version: 1,
      description: 'module store: mod_kv (tbl, us, field) → value, mod_list (id, tbl, us, value)',
      statements: (s: string) => [
        `CREATE TABLE IF NOT EXISTS ${s}.mod_kv (
           tbl text NOT NULL, us text NOT NULL, field text NOT NULL, value text NOT NULL,
           PRIMARY KEY (tbl, us, field))`,
        `CREATE TABLE IF NOT EXISTS ${s}.mod_list (
           id bigserial PRIMARY KEY, tbl text NOT NULL, us text NOT NULL, value text NOT NULL)`,
        `CREATE INDEX IF NOT EXISTS i_mod_list_us ON ${s}.mod_list (tbl, us, id)`,
      ],
    },
  ]),
});

/**
 * {@link ModuleStore} in PostgreSQL, beside `SqlBackend`'s `sm` table: every statement
 * parameterised and bounded by the client's `queryTimeoutMs`; failures are the client's typed
 * errors (`BackendUnavailableError`, `SqlCommandError`, `SqlTimeoutError`).
 */
export class SqlModuleStore implements ModuleStore {
  readonly name = 'sql';
  private readonly kv: string;
  private readonly list: string;

  /** Use {@link SqlModuleStore.start}, which creates the tables first. */
  constructor(
    private readonly client: SqlClient,
    options: SqlModuleStoreOptions = {},
  ) {
    const s = quoteSchema(options.schema ?? SQL_DEFAULTS.schema);
    this.kv = `${s}.mod_kv`;
    this.list = `${s}.mod_list`;
  }

  /** Creates (or migrates) the tables, then returns the store. */
  static async start(client: SqlClient, options: SqlModuleStoreOptions = {}): Promise<SqlModuleStore> {
    await migrate(client, options.schema ?? SQL_DEFAULTS.schema, MODULE_SCHEMA);
    return new SqlModuleStore(client, options);
  }

  async getAll(table: string, us: string): Promise<ReadonlyMap<string, string>> {
    const rows = await this.client.query<{ field: string; value: string }>(
      'mod_get_all',
      `SELECT field, value FROM ${this.kv} WHERE tbl = $1 AND us = $2`,
      [table, us],
    );
    return new Map(rows.map((r) => [r.field, r.value]));
  }

  async get(table: string, us: string, field: string): Promise<string | undefined> {
    const rows = await this.client.query<{ value: string }>(
      'mod_get',
      `SELECT value FROM ${this.kv} WHERE tbl = $1 AND us = $2 AND field = $3`,
      [table, us, field],
    );
    return rows[0]?.value;
  }

  async set(table: string, us: string, field: string, value: string): Promise<void> {
    await this.client.query(
      'mod_set',
      `INSERT INTO ${this.kv} (tbl, us, field, value) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tbl, us, field) DO UPDATE SET value = EXCLUDED.value`,
      [table, us, field, value],
    );
  }

  async delete(table: string, us: string, field: string): Promise<void> {
    await this.client.query(
      'mod_delete',
      `DELETE FROM ${this.kv} WHERE tbl = $1 AND us = $2 AND field = $3`,
      [table, us, field],
    );
  }

  async deleteAll(table: string, us: string): Promise<void> {
    await this.client.query('mod_delete_all', `DELETE FROM ${this.kv} WHERE tbl = $1 AND us = $2`, [
      table,
      us,
    ]);
    await this.client.query('mod_delete_all', `DELETE FROM ${this.list} WHERE tbl = $1 AND us = $2`, [
      table,
      us,
    ]);
  }

  async append(table: string, us: string, value: string, max: number): Promise<boolean> {
    const rows = await this.client.query(
      'mod_append',
      `INSERT INTO ${this.list} (tbl, us, value)
       SELECT $1, $2, $3 WHERE (SELECT count(*) FROM ${this.list} WHERE tbl = $1 AND us = $2) < $4
       RETURNING id`,
      [table, us, value, max],
    );
    return rows.length > 0;
  }

  async readList(table: string, us: string): Promise<string[]> {
    const rows = await this.client.query<{ value: string }>(
      'mod_read_list',
      `SELECT value FROM ${this.list} WHERE tbl = $1 AND us = $2 ORDER BY id`,
      [table, us],
    );
    return rows.map((r) => r.value);
  }

  async takeAll(table: string, us: string): Promise<string[]> {
    const rows = await this.client.query<{ id: string; value: string }>(
      'mod_take_all',
      `DELETE FROM ${this.list} WHERE tbl = $1 AND us = $2 RETURNING id, value`,
      [table, us],
    );
    return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)).map((r) => r.value);
  }

  async count(table: string, us: string): Promise<number> {
    const rows = await this.client.query<{ n: string }>(
      'mod_count',
      `SELECT count(*) AS n FROM ${this.list} WHERE tbl = $1 AND us = $2`,
      [table, us],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
