// bench/sql-backend: the PostgreSQL session backend against the bare driver running the same
// statements on the same private server in the same run, routing with a warm cache against the
// memory backend, and the two drivers considered (`postgres` and `pg`) on those statements.
//
//   RATIO open-close-vs-driver  SessionManager openSession + closeSession on SqlBackend, 200
//                               concurrent callers, vs the bare `postgres` driver issuing the same
//                               statements (`smStatements`: the upsert and the delete, each with its
//                               notification and the user's rows after it; the session manager's
//                               reads in between are cache hits) with the same concurrency and pool
//                               size (>= 0.8 wanted).
//   RATIO route-vs-memory       route() to a full JID with the rows in PostgreSQL, warm cache, vs the
//                               memory backend (>= 0.5 wanted).
//   RATIO postgres-vs-pg        the same open/close statements: `postgres` (pipelined, prepared) vs
//                               `pg` (prepared by name, one statement at a time per connection).
//   FIGURE route-sql-uncached   route() with the cache off: one select per route.
import type { ActorRef } from '@otp-chat/actor';
import { type SmStatements, SqlBackend, smStatements } from '@otp-chat/sql-backend';
import { PostgresServer } from '@otp-chat/sql-backend/testing';
import pg from 'pg';
import postgres from 'postgres';
import {
  CALLERS,
  concurrently,
  HOST,
  routeRounds,
  routeWarmVsMemory,
  sink,
  startSm,
} from './lib/sessionStores.ts';
import { figure, header, interleaved, type Measurement, measure, ratio, table } from './lib.ts';

const POOL = 2; // SqlBackend's default (DEFAULTS.poolSize)

type Query = (name: string, text: string, params: unknown[]) => Promise<unknown>;

/** One open+close as the session manager issues it on SqlBackend: the upsert, then the delete. */
function cycleWith(q: Query, s: SmStatements) {
  let counter = 0;
  return async (c: number): Promise<void> => {
    const id = ++counter;
    const usec = String(1_700_000_000_000_000 + (id % 1_000_000));
    const pid = `["bare",${c},${id}]`;
    const user = `user${c}`;
    const payload = `x\n${user.length}:${user}@${HOST}`;
    await q('set', s.set, [usec, pid, 'bare', user, HOST, 'res', '5', '{"conn":"c2s"}', s.channel, payload]);
    await q('delete', s.delete, [usec, pid, s.channel, payload, HOST, user]);
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
    // The bare `postgres` driver, same pool size, the same statements (prepared, pipelined), and
    // the other driver considered: `pg`, statements prepared by name, same pool size. Each pair is
    // measured in alternating rounds, so that the shared machine's drift hits both sides alike.
    const s = smStatements('bench'); // exactly what the backend sends
    const bare = postgres(server.url, { max: POOL, prepare: true, fetch_types: false, onnotice: () => {} });
    const bareQuery: Query = (_name, text, params) => bare.unsafe(text, params as never[], { prepare: true });
    const bareCycle = cycleWith(bareQuery, s);
    const pool = new pg.Pool({ connectionString: server.url, max: POOL });
    const pgQuery: Query = (name, text, params) => pool.query({ name, text, values: params });
    const pgCycle = cycleWith(pgQuery, s);

    const opts = { ops: 4_000, rounds: 7, warmup: 1 };
    const openClose = await interleaved(
      { name: 'bare postgres driver, same statements', round: (n) => concurrently(n, (c) => bareCycle(c)) },
      {
        name: 'SessionManager open+close (SqlBackend)',
        round: (n) =>
          concurrently(n, async (c) => {
            const sid = sm.makeSid(conns[c]!);
            await sm.openSession(sid, `user${c}`, HOST, 'res', 5, { conn: 'c2s' });
            await sm.closeSession(sid, `user${c}`, HOST, 'res');
          }),
      },
      opts,
    );
    const drivers = await interleaved(
      { name: 'bare pg driver, same statements', round: (n) => concurrently(n, (c) => pgCycle(c)) },
      { name: 'bare postgres driver (vs pg)', round: (n) => concurrently(n, (c) => bareCycle(c)) },
      opts,
    );
    const smCase = openClose.project;
    const bareCase = openClose.baseline;
    const pgCase = drivers.baseline;
    rows.push(smCase, bareCase, pgCase);
    await bare.end({ timeout: 1 });
    await pool.end();

    // ---- route to a full JID, warm cache, and with the cache off -------------------------------
    const routes = await routeWarmVsMemory('SqlBackend', sm, system);
    const sqlRoute = routes.store;
    const memRoute = routes.memory;
    const uncachedBackend = new SqlBackend({
      url: server.url,
      schema: 'bench',
      cache: false,
      poolSize: POOL,
    });
    const uncached = await startSm(uncachedBackend, 'bench3');
    const uncachedRoute = await measure(
      'route full JID (SqlBackend, cache off)',
      { ops: 2_000, rounds: 3, warmup: 1 },
      routeRounds(uncached.sm, system, routes.alice),
    );
    rows.push(sqlRoute, memRoute, uncachedRoute);
    await uncached.sm.stop();
    await sm.stop();

    table(rows);
    ratio('open-close-vs-driver', openClose.ratio);
    ratio('route-vs-memory', sqlRoute.opsPerSec / memRoute.opsPerSec);
    ratio('postgres-vs-pg', drivers.ratio);
    figure('open-close-sql', smCase.opsPerSec, 'ops/s');
    figure('open-close-bare-postgres', bareCase.opsPerSec, 'ops/s');
    figure('open-close-bare-pg', pgCase.opsPerSec, 'ops/s');
    figure('route-sql-warm', sqlRoute.opsPerSec, 'ops/s');
    figure('route-sql-uncached', uncachedRoute.opsPerSec, 'ops/s');
  } finally {
    await server.stop();
  }
}

await main();
