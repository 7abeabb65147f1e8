// bench/scale (pnpm bench:scale): as many sessions as this machine holds, across the chat server's
// workers. A process may open at most 20,000 files here (the hard limit), so SESSIONS are spread
// over WORKERS worker processes (each under the limit with its Redis connections and pipes) and
// DRIVERS driver processes (bench/xmpp/rawDriver.ts, one loopback source address each, so that no
// address runs out of ephemeral ports). The chat server runs as an operator runs it
// (examples/chat-server's build, --backend redis on a private redis-server, --workers).
//
// Phases, each bounded in count and time: the logins (CONCURRENCY in flight, LOGIN_DEADLINE_S at
// most: the sessions held are those logged in by then), the memory (RSS of every server process,
// growth over the logins, per session), idle CPU with every session held (IDLE_S seconds), round
// trips with the sessions held (PROBES), and round trips under load (the same probes while every
// session sends one chat to the next user).
//
//   pnpm bench:scale                              # 100,000 sessions, 6 workers, 6 drivers
//   SESSIONS=20000 WORKERS=2 DRIVERS=2 pnpm bench:scale
//   XMPP_NODE_FLAGS='--max-semi-space-size=16' pnpm bench:scale
import { availableParallelism } from 'node:os';
import { RedisServer } from '@otp-chat/redis-backend/testing';
import { figure, header } from './lib.ts';
import { startChatServerProcess } from './xmpp/chatServerProcess.ts';
import { percentile, RawDrivers } from './xmpp/rawBench.ts';

const SESSIONS = Number(process.env.SESSIONS ?? 100_000);
/** 100k / 6 = 16,667 sockets per worker, under the 20,000 files of a process with room to spare. */
const WORKERS = Number(process.env.WORKERS ?? 6);
const DRIVERS = Number(process.env.DRIVERS ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 240);
const LOGIN_DEADLINE_S = Number(process.env.LOGIN_DEADLINE_S ?? 300);
const IDLE_S = Number(process.env.IDLE_S ?? 10);
const PROBES = Number(process.env.PROBES ?? 3000);
const NODE_FLAGS = process.env.XMPP_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rtt(label: string, probes: readonly { micros: number[]; lost: number }[]): void {
  const micros = probes.flatMap((p) => p.micros).sort((a, b) => a - b);
  const lost = probes.reduce((s, p) => s + p.lost, 0);
  process.stdout.write(
    `round trip ${label}: ${micros.length} probes, p50 ${percentile(micros, 50).toFixed(0)} us, ` +
      `p99 ${percentile(micros, 99).toFixed(0)} us, max ${(micros.at(-1) ?? Number.NaN).toFixed(0)} us, lost ${lost}\n`,
  );
  figure(`rtt-p50-${label}`, percentile(micros, 50) / 1000, 'ms');
  figure(`rtt-p99-${label}`, percentile(micros, 99) / 1000, 'ms');
  figure(`rtt-max-${label}`, (micros.at(-1) ?? Number.NaN) / 1000, 'ms');
}

async function main(): Promise<void> {
  header(
    `scale: ${SESSIONS} sessions over ${WORKERS} chat-server workers (--backend redis) and ${DRIVERS} raw drivers, ` +
      `${CONCURRENCY} logins in flight, ${availableParallelism()} cores`,
  );
  const redis = await RedisServer.start();
  let drivers: RawDrivers | undefined;
  const server = await startChatServerProcess({
    name: 'otp-chat',
    workers: WORKERS,
    n: SESSIONS,
    redisUrl: redis.url,
    redisPid: redis.pid,
    nodeFlags: NODE_FLAGS,
  });
  try {
    drivers = await RawDrivers.start(DRIVERS, SESSIONS);
    await sleep(2000); // the workers' start-up (users registered) settles
    const rss0 = await server.rss();
    const c0 = await server.cpu();
    const login = await drivers.ask(
      {
        type: 'login',
        port: server.port,
        concurrency: Math.ceil(CONCURRENCY / DRIVERS),
        deadlineMs: LOGIN_DEADLINE_S * 1000,
      },
      'logged-in',
    );
    const c1 = await server.cpu();
    const failed = login.reduce((s, r) => s + r.failed, 0);
    const held = SESSIONS - failed;
    const sec = Math.max(...login.map((r) => r.sec));
    if (failed > 0)
      process.stdout.write(
        `${failed} logins failed or not started (${login.find((r) => r.error)?.error ?? 'deadline'})\n`,
      );
    await sleep(3000);
    const rss1 = await server.rss();
    process.stdout.write(
      `logins: ${held} in ${sec.toFixed(1)} s (${(held / sec).toFixed(0)}/s), server CPU ${((1e6 * (c1 - c0)) / Math.max(1, held)).toFixed(0)} us per login\n` +
        `RSS of the server processes: ${(rss0 / 2 ** 20).toFixed(0)} MiB before, ${(rss1 / 2 ** 20).toFixed(0)} MiB with the sessions\n`,
    );
    figure('sessions-held', held, 'sessions');
    figure('rss-per-session', (rss1 - rss0) / Math.max(1, held) / 1024, 'KB');
    figure('login-rate', held / sec, 'logins/s');
    const i0 = await server.cpu();
    await sleep(IDLE_S * 1000);
    const i1 = await server.cpu();
    figure('idle-cpu-pct', ((i1 - i0) / IDLE_S) * 100, '% of one core');
    rtt('held', await drivers.ask({ type: 'rtt', probes: Math.ceil(PROBES / DRIVERS), inFlight: 2 }, 'rtt'));
    // Under load: the probes while every session sends one chat to the next user.
    await drivers.ask({ type: 'arm' }, 'armed');
    const blast = drivers.ask({ type: 'blast', k: 1 }, 'delivered');
    const probes = await drivers.ask(
      { type: 'rtt', probes: Math.ceil(PROBES / DRIVERS), inFlight: 2 },
      'rtt',
    );
    const delivered = await blast;
    const msgs = delivered.reduce((s, r) => s + r.received, 0);
    process.stdout.write(
      `load: ${msgs} chats in ${Math.max(...delivered.map((r) => r.sec)).toFixed(1)} s during the probes\n`,
    );
    rtt('under-load', probes);
    await drivers.ask({ type: 'logout' }, 'logged-out');
  } finally {
    drivers?.stop();
    await server.stop();
    await redis.stop();
  }
}

await main();
