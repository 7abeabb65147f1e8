import { ActorSystem, type Logger, silentLogger, systemClock } from '@otp-chat/actor';
import { capturingLogger, type LoggedLine } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { type Session, SessionManager } from '@otp-chat/session-manager';
import { cleanedRows, makeRow } from '@otp-chat/session-manager/testing';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  DatabaseEncodingError,
  SchemaTooNewError,
  SqlValueError,
} from '../src/errors.ts';
import { SqlBackend, type SqlBackendOptions } from '../src/SqlBackend.ts';
import { SqlClient } from '../src/SqlClient.ts';
import { migrate, SM_SCHEMA } from '../src/schema.ts';
import {
  canRunPostgresTests,
  dropSchema,
  freePort,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

const A = 'a.example';
const HOSTS = [A, 'b.example'] as const;

function keys(rows: readonly Session[]): string[] {
  return rows.map((r) => r.sid.key()).sort();
}

describe.runIf(canRunPostgresTests('SqlBackend'))('SqlBackend', () => {
  let pg: TestPostgres;
  let admin: postgres.Sql;
  const started: SqlBackend[] = [];
  const schemas: string[] = [];

  beforeAll(async () => {
    pg = await startTestPostgres();
    admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  });
  afterEach(async () => {
    for (const b of started.splice(0)) await b.stop();
    for (const s of schemas.splice(0)) await dropSchema(pg.url, s);
  });
  afterAll(async () => {
    await admin?.end({ timeout: 1 });
    await pg?.stop();
  });

  function schema(label: string): string {
    const s = uniqueSchema(label);
    schemas.push(s);
    return s;
  }

  async function start(
    options: SqlBackendOptions = {},
    node = 'node1',
    logger: Logger = silentLogger,
    incarnation?: string,
  ): Promise<SqlBackend> {
    const b = new SqlBackend({ url: pg.url, schema: options.schema ?? schema('sb'), ...options });
    started.push(b);
    await b.init({
      node,
      hosts: HOSTS,
      logger,
      clock: systemClock,
      ...(incarnation === undefined ? {} : { incarnation }),
    });
    return b;
  }

  it('hostUp / hostDown: a host added at run time is listed like the others, then no longer', async () => {
    const C = 'c.example';
    const writer = await start();
    const b = new SqlBackend({ url: pg.url, schema: writer.schema });
    started.push(b);
    await b.init({ node: 'node2', hosts: [A], logger: silentLogger, clock: systemClock });
    const row = makeRow('carol', C, 'r', 1, { node: 'node1' });
    await writer.setSession(row);
    expect(await b.getSessions()).toEqual([]);
    b.hostUp(C);
    expect((await b.getSessions()).map((r) => r.sid.key())).toEqual([row.sid.key()]);
    b.hostDown(C);
    expect(await b.getSessions()).toEqual([]);
  });

  describe("ejabberd's sm table", () => {
    it('has the columns, primary key and indexes of sql/pg.new.sql', async () => {
      const b = await start();
      const columns = await admin`
        SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = ${b.schema} AND table_name = 'sm' ORDER BY ordinal_position`;
      expect(columns.map((c) => [c.column_name, c.data_type, c.is_nullable])).toEqual([
        ['usec', 'bigint', 'NO'],
        ['pid', 'text', 'NO'],
        ['node', 'text', 'NO'],
        ['username', 'text', 'NO'],
        ['server_host', 'text', 'NO'],
        ['resource', 'text', 'NO'],
        ['priority', 'text', 'NO'],
        ['info', 'text', 'NO'],
      ]);
      const indexes = await admin`
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ${b.schema} AND tablename = 'sm'
        ORDER BY indexname`;
      expect(indexes.map((i) => i.indexname)).toEqual(['i_sm_node', 'i_sm_sh_username', 'sm_pkey']);
      expect(indexes.find((i) => i.indexname === 'sm_pkey')?.indexdef).toContain('(usec, pid)');
      expect(indexes.find((i) => i.indexname === 'i_sm_sh_username')?.indexdef).toContain(
        '(server_host, username)',
      );
    });

    it('writes one row per session as ejabberd_sm_sql does, and removes it by (usec, pid)', async () => {
      const b = await start();
      const row = makeRow('alice', A, 'phone', 7, { info: { conn: 'c2s' } });
      await b.setSession(row);
      const [stored] = await admin.unsafe(`SELECT * FROM "${b.schema}".sm`);
      expect(stored).toEqual({
        usec: String(1_700_000_000 * 1_000_000 + 7),
        pid: '["node1",7,7]',
        node: 'node1',
        username: 'alice',
        server_host: A,
        resource: 'phone',
        priority: '',
        info: '{"conn":"c2s"}',
      });
      await b.setSession(row.withPriority(3)); // the upsert on (usec, pid)
      const again = await admin.unsafe(`SELECT priority FROM "${b.schema}".sm`);
      expect(again).toEqual([{ priority: '3' }]);
      await b.deleteSession(row);
      expect(await admin.unsafe(`SELECT count(*)::int AS n FROM "${b.schema}".sm`)).toEqual([{ n: 0 }]);
    });

    it('reads the user path with the (server_host, username) index', async () => {
      const b = await start();
      const [plan] = await admin.unsafe(
        `EXPLAIN (FORMAT JSON) SELECT * FROM "${b.schema}".sm WHERE server_host = 'a' AND username = 'b'`,
      );
      const text = JSON.stringify(plan);
      // On an empty table the planner may still scan: force the question with seqscan off.
      await admin.unsafe('SET enable_seqscan = off');
      const [forced] = await admin.unsafe(
        `EXPLAIN (FORMAT JSON) SELECT * FROM "${b.schema}".sm WHERE server_host = 'a' AND username = 'b'`,
      );
      await admin.unsafe('SET enable_seqscan = on');
      expect(text.length).toBeGreaterThan(0);
      expect(JSON.stringify(forced)).toContain('i_sm_sh_username');
    });
  });

  describe('migrations', () => {
    it('from empty: creates the schema, the tables and the version row; a re-run does nothing', async () => {
      const s = schema('mig');
      const client = new SqlClient({ url: pg.url });
      try {
        expect(await migrate(client, s, SM_SCHEMA)).toEqual({ component: 'sm', from: 0, to: 2 });
        expect(await migrate(client, s, SM_SCHEMA)).toEqual({ component: 'sm', from: 2, to: 2 });
        const versions = await admin.unsafe(`SELECT component, version FROM "${s}".otp_chat_schema`);
        expect(versions).toEqual([{ component: 'sm', version: 2 }]);
        const tables = await admin.unsafe(
          `SELECT tablename FROM pg_tables WHERE schemaname = '${s}' ORDER BY tablename`,
        );
        expect(tables.map((t) => t.tablename)).toEqual(['otp_chat_schema', 'otp_chat_sm_node', 'sm']);
      } finally {
        await client.end();
      }
    });

    it('from version 1 (the sm table alone): migration 2 adds the store-loss markers and the TRUNCATE trigger, keeping the rows', async () => {
      const s = schema('mig1');
      const client = new SqlClient({ url: pg.url });
      try {
        const v1 = { ...SM_SCHEMA, migrations: SM_SCHEMA.migrations.slice(0, 1) };
        expect(await migrate(client, s, v1)).toEqual({ component: 'sm', from: 0, to: 1 });
        await admin.unsafe(`INSERT INTO "${s}".sm VALUES (1, 'p', 'n', 'alice', 'a.example', 'r', '', '{}')`);
        expect(await migrate(client, s, SM_SCHEMA)).toEqual({ component: 'sm', from: 1, to: 2 });
        expect(await admin.unsafe(`SELECT username FROM "${s}".sm`)).toEqual([{ username: 'alice' }]);
        const triggers = await admin.unsafe(
          `SELECT tgname FROM pg_trigger WHERE tgrelid = '"${s}".sm'::regclass AND NOT tgisinternal`,
        );
        expect(triggers).toEqual([{ tgname: 'otp_chat_sm_truncated' }]);
      } finally {
        await client.end();
      }
    });

    it('several nodes migrating at once: one does the work, the others find it done', async () => {
      const s = schema('migrace');
      const clients = [1, 2, 3, 4].map(() => new SqlClient({ url: pg.url, poolSize: 1 }));
      try {
        const results = await Promise.all(clients.map((c) => migrate(c, s, SM_SCHEMA)));
        expect(results.map((r) => r.from).sort()).toEqual([0, 2, 2, 2]);
      } finally {
        for (const c of clients) await c.end();
      }
    });

    it('accepts an sm table laid out by ejabberd (sql/pg.new.sql) as it is', async () => {
      const s = schema('ejab');
      await admin.unsafe(`CREATE SCHEMA "${s}"`);
      await admin.unsafe(`CREATE TABLE "${s}".sm (
        usec bigint NOT NULL, pid text NOT NULL, node text NOT NULL, username text NOT NULL,
        server_host text NOT NULL, resource text NOT NULL, priority text NOT NULL, info text NOT NULL,
        PRIMARY KEY (usec, pid))`);
      await admin.unsafe(`CREATE INDEX i_sm_node ON "${s}".sm USING btree (node)`);
      await admin.unsafe(`CREATE INDEX i_sm_sh_username ON "${s}".sm USING btree (server_host, username)`);
      // A row ejabberd wrote (an Erlang pid and term) is skipped and logged, never a crash.
      await admin.unsafe(
        `INSERT INTO "${s}".sm VALUES (1700000000000001, '<0.123.0>', 'ejabberd@localhost', 'alice', 'a.example', 'r', '', '[]')`,
      );
      const lines: LoggedLine[] = [];
      const b = await start({ schema: s }, 'node1', capturingLogger(lines));
      const row = makeRow('alice', A, 'mine', 2);
      await b.setSession(row);
      expect(keys(await b.getSessions('alice', A))).toEqual(keys([row]));
      expect(lines.some((l) => l.level === 'error' && l.msg?.includes('cannot be decoded'))).toBe(true);
    });

    it('refuses a schema newer than the code, changing nothing', async () => {
      const s = schema('newer');
      const client = new SqlClient({ url: pg.url });
      try {
        await migrate(client, s, SM_SCHEMA);
        await admin.unsafe(`UPDATE "${s}".otp_chat_schema SET version = 99 WHERE component = 'sm'`);
        await expect(migrate(client, s, SM_SCHEMA)).rejects.toBeInstanceOf(SchemaTooNewError);
        const b = new SqlBackend({ url: pg.url, schema: s });
        const error = await b
          .init({ node: 'n', hosts: HOSTS, logger: silentLogger, clock: systemClock })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SchemaTooNewError);
        expect(error).toMatchObject({ component: 'sm', found: 99, known: 2 });
        expect(b.status).toBe('stopped');
      } finally {
        await client.end();
      }
    });

    it('refuses a database that is not UTF-8', async () => {
      const db = `latin_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      await admin.unsafe(`CREATE DATABASE ${db} ENCODING 'SQL_ASCII' TEMPLATE template0`);
      try {
        const url = new URL(pg.url);
        url.pathname = `/${db}`;
        const b = new SqlBackend({ url: url.toString() });
        await expect(
          b.init({ node: 'n', hosts: HOSTS, logger: silentLogger, clock: systemClock }),
        ).rejects.toBeInstanceOf(DatabaseEncodingError);
      } finally {
        await admin.unsafe(`DROP DATABASE ${db}`);
      }
    });

    it('init rejects with BackendUnavailableError when nothing listens', async () => {
      const b = new SqlBackend({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres` });
      const error = await b
        .init({ node: 'n', hosts: HOSTS, logger: silentLogger, clock: systemClock })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error).toMatchObject({ backend: 'sql', operation: 'init' });
      expect(b.status).toBe('stopped');
    });

    it('a schema name that is not a plain identifier is refused before any SQL', () => {
      for (const bad of ['Public', 'a-b', 'x"; DROP TABLE sm; --', '', 'a'.repeat(49)]) {
        expect(() => new SqlBackend({ url: pg.url, schema: bad })).toThrow(SqlValueError);
      }
    });
  });

  describe('write order', () => {
    it('writes of one row keep their order on a pool: an upsert never overtakes a later delete', async () => {
      const b = await start({ poolSize: 4 });
      const rows = Array.from({ length: 200 }, (_, i) => makeRow(`u${i}`, A, 'r', i + 1));
      await Promise.all(rows.map((r) => b.setSession(r)));
      // Presence, presence, close: issued together, as a connection that goes away mid-update.
      await Promise.all(
        rows.flatMap((r) => [
          b.setSession(r.withPriority(1)),
          b.setSession(r.withPriority(2)),
          b.deleteSession(r),
        ]),
      );
      expect(await b.getSessions()).toEqual([]);
    });
  });

  it("one user's reads and writes settle in the order they were issued, as on one connection", async () => {
    const b = await start({ poolSize: 4, cache: false });
    const rows = Array.from({ length: 100 }, (_, i) => makeRow(`u${i}`, A, 'r', i + 1));
    await Promise.all(rows.map((r) => b.setSession(r)));
    const settled: string[] = [];
    const seen: (number | undefined)[] = [];
    await Promise.all(
      rows.flatMap((r) => [
        Promise.resolve(b.getSessions(r.luser, A)).then(() => settled.push(`${r.luser} read-before`)),
        b.setSession(r.withPriority(5)).then(() => settled.push(`${r.luser} write`)),
        Promise.resolve(b.getSessions(r.luser, A)).then((got) => {
          settled.push(`${r.luser} read-after`);
          seen.push(got[0]?.priority);
        }),
      ]),
    );
    for (const r of rows) {
      const mine = settled.filter((e) => e.startsWith(`${r.luser} `));
      expect(mine).toEqual([`${r.luser} read-before`, `${r.luser} write`, `${r.luser} read-after`]);
    }
    expect(seen.every((p) => p === 5)).toBe(true); // a read issued after the write sees it
  });

  describe('SQL injection through user names and resources', () => {
    const hostile = [
      "'; DROP TABLE sm; --",
      "alice' OR '1'='1",
      'bob"; DELETE FROM sm; --',
      'back\\slash\\',
      '$1 $2 $$ $tag$',
      '%_* like wildcards',
      'юзер 手机 📱 مرحبا',
      'x'.repeat(1023),
      ' leading and trailing ',
    ];
    it('stores and reads back every string byte-exact, and the table survives', async () => {
      const b = await start();
      const rows = hostile.map((s, i) => makeRow(s, A, hostile[(i + 3) % hostile.length]!, i + 1));
      for (const r of rows) await b.setSession(r);
      for (const r of rows) {
        const got = await b.getSessions(r.luser, A);
        expect(got.map((g) => [g.luser, g.lresource])).toEqual([[r.luser, r.lresource]]);
        expect(Buffer.from(got[0]!.luser).equals(Buffer.from(r.luser))).toBe(true);
        expect(Buffer.from(got[0]!.lresource).equals(Buffer.from(r.lresource))).toBe(true);
      }
      expect(keys(await b.getSessions(A))).toEqual(keys(rows));
      const [{ n }] = (await admin.unsafe(`SELECT count(*)::int AS n FROM "${b.schema}".sm`)) as unknown as [
        { n: number },
      ];
      expect(n).toBe(rows.length);
      for (const r of rows) await b.deleteSession(r);
      expect(await b.getSessions()).toEqual([]);
    });

    it('refuses NUL and unpaired surrogates with SqlValueError, writing nothing', async () => {
      const b = await start();
      await expect(b.setSession(makeRow('a\u0000b', A, 'r', 1))).rejects.toBeInstanceOf(SqlValueError);
      await expect(b.setSession(makeRow('a', A, 'r\udc00', 2))).rejects.toBeInstanceOf(SqlValueError);
      expect(await b.getSessions()).toEqual([]);
      expect(b.pendingWrites).toBe(0);
    });
  });

  describe("cache (ejabberd_sm's sm_cache)", () => {
    it('answers a warm read synchronously; a write refreshes it with the rows after the write', async () => {
      const b = await start();
      const row = makeRow('alice', A, 'r', 1);
      await b.setSession(row);
      // The upsert answered alice's rows: the next read is a hit, no round trip.
      const warm = b.getSessions('alice', A);
      expect(Array.isArray(warm)).toBe(true);
      expect(keys(warm as readonly Session[])).toEqual(keys([row]));
      const other = makeRow('alice', A, 'r2', 2);
      await b.setSession(other);
      expect(keys(b.getSessions('alice', A) as readonly Session[])).toEqual(keys([row, other]));
      await b.deleteSession(row);
      expect(keys(b.getSessions('alice', A) as readonly Session[])).toEqual(keys([other]));
      // Writes in flight together: whatever order they land in, the cache ends as the table is.
      await Promise.all([b.setSession(makeRow('alice', A, 'r3', 3)), b.deleteSession(other)]);
      expect(keys(await b.getSessions('alice', A))).toEqual(keys([makeRow('alice', A, 'r3', 3)]));
    });

    it("another node's write invalidates this node's cache through NOTIFY", async () => {
      const s = schema('notify');
      const n1 = await start({ schema: s }, 'node1');
      const n2 = await start({ schema: s }, 'node2');
      const row = makeRow('alice', A, 'r', 1, { node: 'node2' });
      expect(await n1.getSessions('alice', A)).toEqual([]);
      expect(Array.isArray(n1.getSessions('alice', A))).toBe(true); // cached "no sessions"
      await n2.setSession(row);
      let now = n1.getSessions('alice', A);
      while (Array.isArray(now) && now.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        now = n1.getSessions('alice', A);
      }
      expect(keys(await now)).toEqual(keys([row]));
      // The other node's delete: this node's cached rows go too.
      expect(Array.isArray(n1.getSessions('alice', A))).toBe(true);
      await n2.deleteSession(row);
      let after = n1.getSessions('alice', A);
      while (Array.isArray(after) && after.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        after = n1.getSessions('alice', A);
      }
      expect(await after).toEqual([]);
      await n2.setSession(row);
      // n1 sees the row again (its notification arrives), and caches it.
      while ((await n1.getSessions('alice', A)).length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(Array.isArray(n1.getSessions('alice', A))).toBe(true);
      // A clean-up by the other node flushes everything.
      await cleanedRows(n2.cleanNode('node2'));
      while (
        Array.isArray(n1.getSessions('alice', A)) &&
        (n1.getSessions('alice', A) as Session[]).length > 0
      ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(await n1.getSessions('alice', A)).toEqual([]);
    });

    it('with the cache off every read goes to the database', async () => {
      const b = await start({ cache: false });
      await b.setSession(makeRow('alice', A, 'r', 1));
      await b.getSessions('alice', A);
      expect(Array.isArray(b.getSessions('alice', A))).toBe(false);
      expect(b.cacheSize).toBe(0);
    });
  });

  describe('node clean-up (ejabberd_sm_sql:init/0, in batches, with hooks)', () => {
    it("100k rows of this node's previous run: the session manager's start removes them in bounded batches, a hook each, other nodes' rows kept", async () => {
      const s = schema('big');
      const client = new SqlClient({ url: pg.url });
      await migrate(client, s, SM_SCHEMA);
      await client.end();
      // 100 000 leftover rows of node1 and 10 of node2, made by the database itself.
      await admin.unsafe(`
        INSERT INTO "${s}".sm
        SELECT 1700000000000000 + g, '["node1",' || g || ',' || g || ']', 'node1', 'u' || (g % 5000), 'a.example', 'r', '', '{}'
        FROM generate_series(1, 100000) AS g`);
      await admin.unsafe(`
        INSERT INTO "${s}".sm
        SELECT 1700000000000000 + g, '["node2",' || g || ',' || g || ']', 'node2', 'v' || g, 'a.example', 'r', '1', '{}'
        FROM generate_series(1, 10) AS g`);
      const lines: LoggedLine[] = [];
      const hooks = new Hooks();
      let removed = 0;
      hooks.add('sm_remove_connection_hook', A, () => void removed++, 50);
      const backend = new SqlBackend({ url: pg.url, schema: s, cleanBatchSize: 1000 });
      const sm = await SessionManager.start({
        system: new ActorSystem({ node: 'node1', logger: silentLogger }),
        hosts: [A],
        backends: { [A]: backend },
        hooks,
        logger: capturingLogger(lines),
      });
      try {
        const batches = lines
          .filter((l) => l.obj.event === 'clean_batch')
          .map((l) => l.obj.removed as number);
        expect(batches.reduce((a, b) => a + b, 0)).toBe(100_000);
        expect(Math.max(...batches)).toBeLessThanOrEqual(1000);
        expect(batches.length).toBeGreaterThanOrEqual(100);
        // The backend logs as its own module (Logger.child / moduleLogger).
        expect(
          lines.filter((l) => l.obj.event === 'clean_batch').every((l) => l.obj.module === 'sql_backend'),
        ).toBe(true);
        // Bounded memory by construction: one batch of decoded rows at a time, its hooks run
        // before the next batch is deleted (the generator is lazy), never 100k at once.
        expect(removed).toBe(100_000);
        const left = await admin.unsafe(`SELECT node, count(*)::int AS n FROM "${s}".sm GROUP BY node`);
        expect(left).toEqual([{ node: 'node2', n: 10 }]);
      } finally {
        await sm.stop();
      }
    }, 60_000);

    it('cleanNode yields committed batches lazily; stopping early leaves the rest', async () => {
      const b = await start({ cleanBatchSize: 3 });
      const rows = Array.from({ length: 10 }, (_, i) => makeRow(`u${i}`, A, 'r', i + 1, { node: 'dead' }));
      for (const r of rows) await b.setSession(r);
      const seen: Session[][] = [];
      for await (const batch of b.cleanNode('dead')) {
        seen.push([...batch]);
        // Lazily: the next batch is not deleted before this one's consumer asks for it.
        expect(await b.getSessions()).toHaveLength(10 - 3 * seen.length);
        if (seen.length === 2) break;
      }
      expect(seen.map((batch) => batch.length)).toEqual([3, 3]);
      expect(await b.getSessions()).toHaveLength(4);
      const rest = await cleanedRows(b.cleanNode('dead'));
      expect(rest).toHaveLength(4);
      // Every row came back exactly once, from the batches or from the rest.
      expect(keys([...seen.flat(), ...rest])).toEqual(keys(rows));
      expect(await b.getSessions()).toEqual([]);
    });

    it('init never deletes rows, whatever the incarnation (the session manager cleans at its start)', async () => {
      const s = schema('incarn');
      const b = await start({ schema: s }, 'node1', silentLogger, 'run-1');
      const live = makeRow('alice', A, 'r', 1);
      await b.setSession(live);
      const ctx = (incarnation?: string) => ({
        node: 'node1',
        hosts: HOSTS,
        logger: silentLogger,
        clock: systemClock,
        ...(incarnation === undefined ? {} : { incarnation }),
      });
      // The backend actor crashed and was restarted: same incarnation, init again without stop.
      await b.init(ctx('run-1'));
      expect(keys(await b.getSessions())).toEqual(keys([live]));
      // The next start of the session manager: a new incarnation; the rows stay until its cleanNode.
      await b.stop();
      await b.init(ctx('run-2'));
      expect(keys(await b.getSessions())).toEqual(keys([live]));
      const fresh = await start({ schema: s }, 'node1');
      expect(keys(await fresh.getSessions())).toEqual(keys([live]));
      expect(keys(await cleanedRows(fresh.cleanNode('node1')))).toEqual(keys([live]));
      expect(await b.getSessions()).toEqual([]);
    });
  });

  describe('a shared client', () => {
    it('serves the backend; stop leaves it open for its other users', async () => {
      const client = new SqlClient({ url: pg.url });
      try {
        const b = await start({ client });
        await b.setSession(makeRow('alice', A, 'r', 1));
        await b.stop();
        expect(b.status).toBe('stopped');
        expect(await client.query('probe', 'SELECT $1::int AS one', [1])).toEqual([{ one: 1 }]);
      } finally {
        await client.end();
      }
    });
  });
});
