import postgres from 'postgres';
import { quoteSchema } from '../schema.ts';
import {
  findPostgresBinaries,
  type PostgresBinaries,
  PostgresServer,
  type PostgresServerOptions,
} from './PostgresServer.ts';

/** How tests can get a PostgreSQL: their own server, `POSTGRES_URL`, or none. */
export type PostgresAvailability =
  | { readonly kind: 'binary'; readonly binaries: PostgresBinaries }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'none' };

/** Checked synchronously, so that it can drive `describe.runIf`. */
export function postgresAvailability(): PostgresAvailability {
  const binaries = findPostgresBinaries();
  if (binaries !== undefined) return { kind: 'binary', binaries };
  const url = process.env.POSTGRES_URL;
  if (url !== undefined && url !== '') return { kind: 'url', url };
  return { kind: 'none' };
}

/**
 * True when PostgreSQL tests can run (`needs: 'server'` also requires the server binaries, for
 * tests that kill the server). Otherwise prints a loud skip notice and answers false, or throws
 * when `REQUIRE_POSTGRES=1` (CI), which turns the skip into a failure.
 */
export function canRunPostgresTests(suite: string, needs: 'any' | 'server' = 'any'): boolean {
  const a = postgresAvailability();
  if (a.kind === 'binary' || (a.kind === 'url' && needs === 'any')) return true;
  const why =
    needs === 'server'
      ? 'initdb and postgres were not found (this suite kills and restarts its own PostgreSQL; POSTGRES_URL is not enough)'
      : 'neither the PostgreSQL server binaries (initdb, postgres) nor POSTGRES_URL';
  if (process.env.REQUIRE_POSTGRES === '1') {
    throw new Error(`REQUIRE_POSTGRES=1 but ${why}: ${suite} cannot run`);
  }
  process.stderr.write(
    `\n!!! SKIPPING ${suite}: ${why}. Install postgresql (Debian) or set POSTGRES_URL; REQUIRE_POSTGRES=1 makes this a failure.\n\n`,
  );
  return false;
}

/** A PostgreSQL for one test file: its own server when the binaries exist, else `POSTGRES_URL`. */
export interface TestPostgres {
  readonly url: string;
  /** The server this helper started, when it did (absent with `POSTGRES_URL`). */
  readonly server: PostgresServer | undefined;
  /** Stops the server it started (a shared `POSTGRES_URL` server is left alone). */
  stop(): Promise<void>;
}

/** Starts (or points at) a PostgreSQL; see {@link postgresAvailability}. */
export async function startTestPostgres(options: PostgresServerOptions = {}): Promise<TestPostgres> {
  const a = postgresAvailability();
  if (a.kind === 'binary') {
    const server = await PostgresServer.start({ ...options, binaries: options.binaries ?? a.binaries });
    return { url: server.url, server, stop: () => server.stop() };
  }
  if (a.kind === 'url') return { url: a.url, server: undefined, stop: async () => {} };
  throw new Error('no PostgreSQL for tests: install postgresql (initdb, postgres) or set POSTGRES_URL');
}

/**
 * A unique schema name, so that tests sharing one database (`POSTGRES_URL`) never see each
 * other's tables: `t_<label>_<pid>_<random>`, valid for `quoteSchema`.
 */
export function uniqueSchema(label = 'test'): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 16);
  return `t_${clean}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

/** Drops `schema` and everything in it, with a short-lived connection. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
