import { randomBytes } from 'node:crypto';
import {
  migrate,
  quoteSchema,
  DEFAULTS as SQL_DEFAULTS,
  type SqlClient,
  USERS_SCHEMA,
} from '@otp-chat/sql-backend';
import { DEFAULTS } from './DEFAULTS.ts';
import { RegisterError } from './errors.ts';
import {
  equalStrings,
  matchesScram,
  prepareNewPassword,
  prepareOfferedPassword,
} from './internal/passwords.ts';
import { type ScramCredentials, scramCredentials } from './Scram.ts';
import type { PasswordFormat, UserStore } from './UserStore.ts';

/** Options of a {@link SqlUserStore}. */
export interface SqlUserStoreOptions {
  /** The PostgreSQL schema of the `users` table. @default 'public' (`@otp-chat/sql-backend`'s `DEFAULTS.schema`) */
  readonly schema?: string;
  /** @default 'plain' */
  readonly passwordFormat?: PasswordFormat;
  /** @default DEFAULTS.scramIterations */
  readonly scramIterations?: number;
}

/** ejabberd's `users.type` (`ejabberd_auth_sql:hash_to_num/1`): 0 is the pre-24 single-row layout. */
const TYPE_LEGACY = 0;
const TYPE_PLAIN = 1;
const TYPE_SCRAM_SHA1 = 2;

interface UserRow {
  readonly type: number;
  readonly password: string;
  readonly serverkey: string;
  readonly salt: string;
  readonly iterationcount: number;
}

/**
 * Accounts in PostgreSQL, in ejabberd's `users` table (`ejabberd_auth_sql`, schema version 2: one
 * row per stored password type), so that sessions (`SqlBackend`) and accounts live in one database,
 * and a table ejabberd filled is read as it is:
 *
 * - `plain` format: a `type` 1 row with the SASLprep'd password, plus a `type` 2 row with the
 *   SCRAM-SHA-1 keys (ejabberd's `auth_stored_password_types: [plain, scram_sha1]`), so that no
 *   login runs PBKDF2; `scram` format: the `type` 2 row only;
 * - an account with only a plain row (written by ejabberd) gets its `type` 2 row on its first
 *   SCRAM login; legacy `type` 0 rows (ejabberd before 24.x) are read as plain or SCRAM-SHA-1;
 *   SCRAM-SHA-256/512 rows (types 3, 4) are kept and ignored (this server offers SCRAM-SHA-1);
 * - every statement is parameterised; `register` is one transaction under an advisory lock per
 *   account (ejabberd's `try_register_multiple/3`), so two registrations of one name never both win.
 *
 * Failures are the client's typed errors: `BackendUnavailableError` (unreachable, too slow) and
 * `SqlCommandError`; the C2S answers them as it answers any store failure.
 *
 * ```ts
 * const client = new SqlClient({ url: 'postgres://…' });
 * const users = await SqlUserStore.start(client); // creates or migrates the users table
 * await XmppServer.start({ …, users, backends: { [domain]: new SqlBackend({ client }) } });
 * ```
 */
export class SqlUserStore implements UserStore {
  readonly name = 'sql';
  private readonly format: PasswordFormat;
  private readonly iterations: number;
  private readonly t: string;

  /** Use {@link SqlUserStore.start}, which makes sure the table exists first. */
  constructor(
    private readonly client: SqlClient,
    options: SqlUserStoreOptions = {},
  ) {
    this.format = options.passwordFormat ?? 'plain';
    this.iterations = options.scramIterations ?? DEFAULTS.scramIterations;
    this.t = `${quoteSchema(options.schema ?? SQL_DEFAULTS.schema)}.users`;
  }

  /** Creates (or migrates) the `users` table in the schema, then returns the store. */
  static async start(client: SqlClient, options: SqlUserStoreOptions = {}): Promise<SqlUserStore> {
    const store = new SqlUserStore(client, options);
    await migrate(client, options.schema ?? SQL_DEFAULTS.schema, USERS_SCHEMA);
    return store;
  }

  private rows(operation: string, luser: string, lserver: string): Promise<UserRow[]> {
    return this.client.query<UserRow>(
      operation,
      `SELECT "type", "password", serverkey, salt, iterationcount FROM ${this.t}
       WHERE server_host = $1 AND username = $2`,
      [lserver, luser],
    );
  }

  async checkPassword(luser: string, lserver: string, password: string): Promise<boolean> {
    const rows = await this.rows('checkPassword', luser, lserver);
    if (rows.length === 0) return false;
    const prepared = prepareOfferedPassword(password);
    if (prepared === undefined) return false;
    const plain = rows.find(isPlain);
    if (plain !== undefined) return equalStrings(plain.password, prepared);
    const scram = rows.find(isScramSha1);
    if (scram === undefined) return false;
    return matchesScram(
      prepared,
      Buffer.from(scram.salt, 'base64'),
      scram.iterationcount,
      Buffer.from(scram.password, 'base64'),
    );
  }

  async scramCredentials(luser: string, lserver: string): Promise<ScramCredentials | undefined> {
    const rows = await this.rows('scramCredentials', luser, lserver);
    const scram = rows.find(isScramSha1);
    if (scram !== undefined) {
      return {
        salt: Buffer.from(scram.salt, 'base64'),
        iterations: scram.iterationcount,
        storedKey: Buffer.from(scram.password, 'base64'),
        serverKey: Buffer.from(scram.serverkey, 'base64'),
      };
    }
    const plain = rows.find(isPlain);
    if (plain === undefined) return undefined;
    // Only a plain row (ejabberd's plain format): derive the keys once and keep them.
    const derived = scramCredentials(plain.password, randomBytes(16), this.iterations);
    await this.client.query(
      'scramCredentials',
      `INSERT INTO ${this.t} (username, server_host, "type", "password", serverkey, salt, iterationcount)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [luser, lserver, TYPE_SCRAM_SHA1, ...scramColumns(derived)],
    );
    return derived;
  }

  async userExists(luser: string, lserver: string): Promise<boolean> {
    const rows = await this.client.query(
      'userExists',
      `SELECT 1 FROM ${this.t} WHERE server_host = $1 AND username = $2 LIMIT 1`,
      [lserver, luser],
    );
    return rows.length > 0;
  }

  async register(luser: string, lserver: string, password: string): Promise<void> {
    const prepared = prepareNewPassword(luser, lserver, password);
    const scram = scramCredentials(prepared, randomBytes(16), this.iterations);
    const created = await this.client.transaction('register', async (tx) => {
      await tx.query('register', 'SELECT pg_advisory_xact_lock(hashtext($1))', [
        `otp-chat-user:${lserver.length}:${lserver}:${luser}`,
      ]);
      const existing = await tx.query(
        'register',
        `SELECT 1 FROM ${this.t} WHERE server_host = $1 AND username = $2 LIMIT 1`,
        [lserver, luser],
      );
      if (existing.length > 0) return false;
      const insert = `INSERT INTO ${this.t} (username, server_host, "type", "password", serverkey, salt, iterationcount)
                      VALUES ($1, $2, $3, $4, $5, $6, $7)`;
      if (this.format === 'plain') {
        await tx.query('register', insert, [luser, lserver, TYPE_PLAIN, prepared, '', '', 0]);
      }
      await tx.query('register', insert, [luser, lserver, TYPE_SCRAM_SHA1, ...scramColumns(scram)]);
      return true;
    });
    if (!created) throw new RegisterError('exists', luser, lserver);
  }

  async removeUser(luser: string, lserver: string): Promise<boolean> {
    const rows = await this.client.query(
      'removeUser',
      `DELETE FROM ${this.t} WHERE server_host = $1 AND username = $2 RETURNING 1`,
      [lserver, luser],
    );
    return rows.length > 0;
  }

  async users(lserver: string): Promise<string[]> {
    const rows = await this.client.query<{ username: string }>(
      'users',
      `SELECT DISTINCT username FROM ${this.t} WHERE server_host = $1`,
      [lserver],
    );
    // Sorted here, as the other stores sort: the database's collation may differ from code points.
    return rows.map((r) => r.username).sort();
  }
}

/** `password` (StoredKey), `serverkey`, `salt` (base64, as ejabberd stores them) and `iterationcount`. */
function scramColumns(s: ScramCredentials): [string, string, string, number] {
  return [
    s.storedKey.toString('base64'),
    s.serverKey.toString('base64'),
    s.salt.toString('base64'),
    s.iterations,
  ];
}

function isPlain(r: UserRow): boolean {
  return r.type === TYPE_PLAIN || (r.type === TYPE_LEGACY && r.serverkey === '' && r.salt === '');
}

function isScramSha1(r: UserRow): boolean {
  return r.type === TYPE_SCRAM_SHA1 || (r.type === TYPE_LEGACY && r.serverkey !== '' && r.salt !== '');
}
