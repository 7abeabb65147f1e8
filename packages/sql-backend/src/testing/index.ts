/**
 * `@otp-chat/sql-backend/testing`: a private PostgreSQL per test file (`initdb` + `postgres` on a
 * free loopback port, in a temporary directory) that fault tests can kill and restart;
 * `POSTGRES_URL` as a fallback; a loud skip (or, with `REQUIRE_POSTGRES=1`, a failure) when
 * neither exists.
 *
 * ```ts
 * import { canRunPostgresTests, startTestPostgres, uniqueSchema } from '@otp-chat/sql-backend/testing';
 * describe.runIf(canRunPostgresTests('my suite'))('my suite', () => {
 *   let pg: TestPostgres;
 *   beforeAll(async () => { pg = await startTestPostgres(); });
 *   afterAll(() => pg.stop());
 *   // new SqlBackend({ url: pg.url, schema: uniqueSchema('my') }) …
 * });
 * ```
 */
export {
  findPostgresBinaries,
  freePort,
  type PostgresBinaries,
  PostgresServer,
  type PostgresServerOptions,
} from './PostgresServer.ts';
export {
  canRunPostgresTests,
  dropSchema,
  type PostgresAvailability,
  postgresAvailability,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from './testPostgres.ts';
