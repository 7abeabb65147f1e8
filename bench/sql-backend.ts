// bench/sql-backend: the PostgreSQL session backend against the bare driver running the same
// statements on the same private server in the same run, routing with a warm cache against the
// memory backend, and the two drivers considered (`postgres` and `pg`) on those statements.
//
//   RATIO open-close-vs-driver  SessionManager openSession + closeSession on SqlBackend, 200
//                               concurrent callers, vs the bare `postgres` driver issuing the same
//                               statements (upsert+notify, select, delete+notify) with the same
//                               concurrency and pool size (>= 0.8 wanted).
//   RATIO route-vs-memory       route() to a full JID with the rows in PostgreSQL, warm cache, vs the
//                               memory backend (>= 0.5 wanted).
//   RATIO postgres-vs-pg        the same open/close statements: `postgres` (pipelined, prepared) vs
//                               `pg` (prepared by name, one statement at a time per connection).
//   FIGURE route-sql-uncached   route() with the cache off: one select per route.
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { jid } from '@otp-chat/jid';
import { type Backend, MemoryBackend, SessionManager } from '@otp-chat/session-manager';
import { SqlBackend } from '@otp-chat/sql-backend';
import { PostgresServer } from '@otp-chat/sql-backend/testing';
import pg from 'pg';
import postgres from 'postgres';
import { figure, header, type Measurement, measure, ratio, table } from './lib.ts';

const HOST = 'bench.example';
const CALLERS = 200;
const POOL = 2; // SqlBackend's default (DEFAULTS.poolSize)

/** A connection actor that drops whatever it receives (routing's destination). */
const sink: GenServer<number, void, 'sync', number> = {
  init: () => ({ ok: 0 }),
  handleInfo: (_m, n) => ({ noreply: true, state: n + 1 }),
  handleCall: (_r, _f, n) => ({ reply: n, state: n }),
};

async function startSm(backend: Backend, node: string): Promise<{ sm: SessionManager; system: ActorSystem }> {
  const system = new ActorSystem({ node, logger: silentLogger });
  const sm = await SessionManager.start({
    system,
    hosts: [HOST],
    backends: { [HOST]: backend },
    logger: silentLogger,
  });
  return { sm, system };
}

/** `ops` operations spread over `CALLERS` concurrent callers, each awaiting its own in sequence. */
async function concurrently(ops: number, one: (caller: number, i: number) => Promise<void>): Promise<void> {
  const per = Math.ceil(ops / CALLERS);
  const callers: Promise<void>[] = [];
  for (let c = 0; c < CALLERS; c++) {
    callers.push(
      (async () => {
        for (let i = 0; i < per; i++) await one(c, i);
      })(),
    );
  }
  await Promise.all(callers);
}

/** The statements SqlBackend sends, for the schema `s` (read from its source: same text, same order). */
function statements(s: string) {
  const t = `"${s}".sm`;
  const columns = 'usec, pid, node, username, server_host, resource, priority, info';
  return {
    set: `WITH w AS (
              INSERT INTO ${t} (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
              ON CONFLICT (usec, pid) DO UPDATE SET node = EXCLUDED.node, username = EXCLUDED.username,
                server_host = EXCLUDED.server_host, resource = EXCLUDED.resource,
                priority = EXCLUDED.priority, info = EXCLUDED.info
              RETURNING 1)
            SELECT pg_notify($9, $10)`,
    delete: `WITH d AS (DELETE FROM ${t} WHERE usec = $1 AND pid = $2 RETURNING 1) SELECT pg_notify($3, $4)`,
    user: `SELECT ${columns} FROM ${t} WHERE server_host = $1 AND username = $2`,
  };
}

type Query = (name: string, text: string, params: unknown[]) => Promise<unknown>;

/** One open+close as the session manager issues it on SqlBackend: upsert, select, delete. */
function cycleWith(q: Query, s: ReturnType<typeof statements>, channel: string) {
  let counter = 0;
  return async (c: number): Promise<void> => {
    const id = ++counter;
    const usec = String(1_700_000_000_000_000 + (id % 1_000_000));
    const pid = `["bare",${c},${id}]`;
    const user = `user${c}`;
    const payload = `x\n${user.length}:${user}@${HOST}`;
    await q('set', s.set, [usec, pid, 'bare', user, HOST, 'res', '5', '{"conn":"c2s"}', channel, payload]);
    await q('user', s.user, [HOST, user]);
    await q('delete', s.delete, [usec, pid, channel, payload]);
  };
}

async function main(): Promise<void> {
  header('sql-backend: SqlBackend vs the bare driver, the memory backend, and postgres vs pg');
  const server = await PostgresServer.start();
  const rows: Measurement[] = [];
  try {
    // ---- open + close ------------------------------------------------------------------------
    const backend = new SqlBackend({ url: server.url, schema: 'bench', poolSize: POOL });
    const { sm, system } = await startSm(backend, 'bench1');
    const conns: ActorRef[] = [];
    for (let c = 0; c < CALLERS; c++) conns.push(await system.spawn(sink, undefined));
    const OPS = 10_000;
    const opts = { ops: OPS, rounds: 5, warmup: 1 };
    const smCase = await measure('SessionManager open+close (SqlBackend)', opts, (n) =>
      concurrently(n, async (c) => {
        const sid = sm.makeSid(conns[c]!);
        await sm.openSession(sid, `user${c}`, HOST, 'res', 5, { conn: 'c2s' });
        await sm.closeSession(sid, `user${c}`, HOST, 'res');
      }),
    );

    // The bare `postgres` driver, same pool size, the same statements (prepared, pipelined).
    const s = statements('bench');
    const channel = 'otp_chat_sm_bench';
    const bare = postgres(server.url, { max: POOL, prepare: true, fetch_types: false, onnotice: () => {} });
    const bareQuery: Query = (_name, text, params) => bare.unsafe(text, params as never[], { prepare: true });
    const bareCycle = cycleWith(bareQuery, s, channel);
    const bareCase = await measure('bare postgres driver, same statements', opts, (n) =>
      concurrently(n, (c) => bareCycle(c)),
    );

    // The other driver considered: `pg`, statements prepared by name, same pool size.
    const pool = new pg.Pool({ connectionString: server.url, max: POOL });
    const pgQuery: Query = (name, text, params) => pool.query({ name, text, values: params });
    const pgCycle = cycleWith(pgQuery, s, channel);
    const pgCase = await measure('bare pg driver, same statements', opts, (n) =>
      concurrently(n, (c) => pgCycle(c)),
    );
    rows.push(smCase, bareCase, pgCase);
    await bare.end({ timeout: 1 });
    await pool.end();

    // ---- route to a full JID, warm cache -------------------------------------------------------
    const target = jid('alice', HOST, 'phone');
    const aliceSql = await system.spawn(sink, undefined);
    await sm.openSession(sm.makeSid(aliceSql), 'alice', HOST, 'phone', 1);
    const memory = await startSm(new MemoryBackend(), 'bench2');
    const aliceMem = await memory.system.spawn(sink, undefined);
    await memory.sm.openSession(memory.sm.makeSid(aliceMem), 'alice', HOST, 'phone', 1);
    const uncachedBackend = new SqlBackend({
      url: server.url,
      schema: 'bench',
      cache: false,
      poolSize: POOL,
    });
    const uncached = await startSm(uncachedBackend, 'bench3');
    const ROUTES = 200_000;
    const term = { type: 'bench' };
    const routeOn = (smx: SessionManager, sys: ActorSystem, ref: ActorRef) => async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = smx.route(target, term);
        if (r instanceof Promise) await r;
      }
      await sys.call(ref, 'sync');
    };
    // Interleave the two so that machine noise hits both alike.
    let sqlRoute: Measurement | undefined;
    let memRoute: Measurement | undefined;
    for (let round = 0; round < 2; round++) {
      sqlRoute = await measure(
        'route full JID (SqlBackend, warm cache)',
        { ops: ROUTES, rounds: 3, warmup: 1 },
        routeOn(sm, system, aliceSql),
      );
      memRoute = await measure(
        'route full JID (MemoryBackend)',
        { ops: ROUTES, rounds: 3, warmup: 1 },
        routeOn(memory.sm, memory.system, aliceMem),
      );
    }
    const uncachedRoute = await measure(
      'route full JID (SqlBackend, cache off)',
      { ops: 2_000, rounds: 3, warmup: 1 },
      routeOn(uncached.sm, system, aliceSql),
    );
    rows.push(sqlRoute!, memRoute!, uncachedRoute);

    await uncached.sm.stop();
    await memory.sm.stop();
    await sm.stop();

    table(rows);
    ratio('open-close-vs-driver', smCase.opsPerSec / bareCase.opsPerSec);
    ratio('route-vs-memory', sqlRoute!.opsPerSec / memRoute!.opsPerSec);
    ratio('postgres-vs-pg', bareCase.opsPerSec / pgCase.opsPerSec);
    figure('open-close-sql', smCase.opsPerSec, 'ops/s');
    figure('open-close-bare-postgres', bareCase.opsPerSec, 'ops/s');
    figure('open-close-bare-pg', pgCase.opsPerSec, 'ops/s');
    figure('route-sql-warm', sqlRoute!.opsPerSec, 'ops/s');
    figure('route-sql-uncached', uncachedRoute.opsPerSec, 'ops/s');
  } finally {
    await server.stop();
  }
}

await main();
