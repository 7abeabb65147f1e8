// bench/redis-backend: the Redis session backend against bare ioredis and redis-benchmark on the
// same Redis in the same run, and routing with a warm cache against the memory backend.
//
//   RATIO open-close-vs-ioredis  SessionManager openSession + closeSession on RedisBackend, 200
//                                concurrent callers, vs bare ioredis issuing the same MULTIs with
//                                the same concurrency (>= 0.8 wanted).
//   RATIO route-vs-memory        route() to a full JID, warm cache, vs the memory backend (>= 0.5).
//   FIGURE redis-benchmark-hset-pipelined  redis-benchmark -t hset -P 16: the ceiling.
//   FIGURE clean-100k-ms / clean-100k-heap (kB)  cleanNode of the 100k rows a dead node left
//                                (batches of 1000): its time, and the peak heap growth while it ran
//                                (from a GC'd start with NODE_OPTIONS=--expose-gc). A test pins
//                                the batching only.
import { execFileSync } from 'node:child_process';
import type { ActorRef } from '@otp-chat/actor';
import { silentLogger, systemClock } from '@otp-chat/actor';
import { RedisBackend } from '@otp-chat/redis-backend';
import { RedisServer, writeDeadNodeRows } from '@otp-chat/redis-backend/testing';
import { Redis } from 'ioredis';
import { CALLERS, concurrently, HOST, routeWarmVsMemory, sink, startSm } from './lib/sessionStores.ts';
import { figure, header, heapUsed, type Measurement, measure, ratio, table } from './lib.ts';

function redisBenchmark(port: number): number | undefined {
  try {
    const out = execFileSync(
      'redis-benchmark',
      ['-h', '127.0.0.1', '-p', String(port), '-t', 'hset', '-n', '200000', '-P', '16', '-q'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const m = /HSET:\s*([\d.]+)\s*requests per second/.exec(out.replace(/\r/g, '\n'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  header('redis-backend: RedisBackend vs bare ioredis, redis-benchmark and the memory backend');
  const server = await RedisServer.start();
  const rows: Measurement[] = [];
  try {
    // ---- open + close ------------------------------------------------------------------------
    const backend = new RedisBackend({ url: server.url, prefix: 'bench' });
    const { sm, system } = await startSm(backend, 'bench1');
    const conns: ActorRef[] = [];
    for (let c = 0; c < CALLERS; c++) conns.push(await system.spawn(sink, undefined));
    const OPS = 20_000;
    const smCase = await measure(
      'SessionManager open+close (RedisBackend)',
      { ops: OPS, rounds: 5, warmup: 1 },
      (n) =>
        concurrently(n, async (c) => {
          const sid = sm.makeSid(conns[c]!);
          await sm.openSession(sid, `user${c}`, HOST, 'res', 5, { conn: 'c2s' });
          await sm.closeSession(sid, `user${c}`, HOST, 'res');
        }),
    );

    // Bare ioredis: the very MULTIs the backend issues (3 HSET + PUBLISH + HGETALL, then the HDELs).
    const bare = new Redis(server.url, { lazyConnect: true });
    await bare.connect();
    const k = backend.keys;
    let counter = 0;
    const bareCase = await measure('bare ioredis, same MULTIs', { ops: OPS, rounds: 5, warmup: 1 }, (n) =>
      concurrently(n, async (c) => {
        const id = ++counter;
        const userKey = k.user(`user${c}`, HOST);
        const field = `1700000000.${id}.bench1.bench1.${c}`;
        const sf = `${String(c).length + 4}:user${c}|${field}`;
        const value = `[1,1700000000,${id},"bench1","bench1",${c},"user${c}","${HOST}","res",5,{"conn":"c2s"}]`;
        await bare
          .multi()
          .hset(userKey, field, value)
          .hset(k.server(HOST), sf, value)
          .hset(k.node(HOST, 'bench1'), sf, JSON.stringify([userKey, field]))
          .publish(k.channel, `x\n${userKey}`)
          .hgetall(userKey)
          .exec();
        await bare
          .multi()
          .hdel(userKey, field)
          .hdel(k.server(HOST), sf)
          .hdel(k.node(HOST, 'bench1'), sf)
          .publish(k.channel, `x\n${userKey}`)
          .hgetall(userKey)
          .exec();
      }),
    );
    rows.push(smCase, bareCase);
    bare.disconnect();

    // ---- route to a full JID, warm cache -------------------------------------------------------
    const routes = await routeWarmVsMemory('RedisBackend', sm, system);
    const redisRoute = routes.store;
    const memRoute = routes.memory;
    rows.push(redisRoute, memRoute);

    await sm.stop();

    // ---- start-up clean-up of 100k rows of a dead node -------------------------------------------
    const CLEAN_ROWS = 100_000;
    const cleanPrefix = 'bench-clean';
    const admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
    const cleaner = new RedisBackend({ url: server.url, prefix: cleanPrefix, cleanBatchSize: 1000 });
    await writeDeadNodeRows(admin, cleaner.keys, HOST, 'dead', CLEAN_ROWS);
    const heapBefore = heapUsed();
    // The peak matters (batches keep it bounded), not what is left after: sample while it runs.
    let heapPeak = heapBefore;
    const sampler = setInterval(() => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 2);
    // What the session manager does at a restarted node's start (and for a node that went down):
    // cleanNode(node), one batch at a time.
    await cleaner.init({ node: 'cleaner', hosts: [HOST], logger: silentLogger, clock: systemClock });
    const cleanStart = performance.now();
    let cleaned = 0;
    for await (const batch of cleaner.cleanNode('dead')) cleaned += batch.length;
    const cleanMs = performance.now() - cleanStart;
    clearInterval(sampler);
    const cleanHeap = Math.max(heapPeak, process.memoryUsage().heapUsed) - heapBefore;
    const left = await admin.hlen(cleaner.keys.server(HOST));
    await cleaner.stop();
    admin.disconnect();
    if (left !== 0 || cleaned !== CLEAN_ROWS)
      throw new Error(`clean-up removed ${cleaned} rows, left ${left}`);
    process.stdout.write(
      `start-up clean-up of ${CLEAN_ROWS.toLocaleString('en-US')} rows: ${Math.round(cleanMs)} ms, heap peak +${(cleanHeap / 1048576).toFixed(1)} MB\n`,
    );

    // ---- the ceiling ---------------------------------------------------------------------------
    const hsetPipelined = redisBenchmark(server.port);
    table(rows);
    // Each open+close is 2 MULTIs of 7 commands (MULTI, 3 writes, PUBLISH, HGETALL, EXEC).
    const commandsPerSec = smCase.opsPerSec * 14;
    if (hsetPipelined !== undefined) {
      process.stdout.write(
        `redis-benchmark -t hset -P 16: ${Math.round(hsetPipelined).toLocaleString('en-US')} req/s (ceiling);\n` +
          `open+close through the session manager: ${Math.round(commandsPerSec).toLocaleString('en-US')} Redis commands/s ` +
          `= ${((100 * commandsPerSec) / hsetPipelined).toFixed(1)}% of it\n\n`,
      );
    } else {
      process.stdout.write('redis-benchmark not available: no ceiling figure\n\n');
    }
    ratio('open-close-vs-ioredis', smCase.opsPerSec / bareCase.opsPerSec);
    ratio('route-vs-memory', redisRoute.opsPerSec / memRoute.opsPerSec);
    figure('open-close-redis', smCase.opsPerSec, 'ops/s');
    figure('route-redis-warm', redisRoute.opsPerSec, 'ops/s');
    figure('clean-100k-ms', cleanMs, 'ms');
    figure('clean-100k-heap', cleanHeap / 1024, 'kB');
    if (hsetPipelined !== undefined) {
      figure('redis-benchmark-hset-pipelined', hsetPipelined, 'req/s');
      figure('open-close-commands-vs-ceiling', (100 * commandsPerSec) / hsetPipelined, '%');
    }
  } finally {
    await server.stop();
  }
}

await main();
