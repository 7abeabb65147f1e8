// bench/xmpp's default variant (pnpm bench:xmpp): the server measured, not the driver. The otp-chat
// chat server as an operator runs it (examples/chat-server's build, --backend redis on a private
// redis-server, with the workers default of this machine and with one worker) against ejabberd
// 23.01 (Debian), driven by rawDriver.ts: DRIVERS processes, each on its own loopback source
// address (127.0.0.2, 127.0.0.3, …), raw sockets, SASL PLAIN, plain password storage on all
// servers. N sessions log in (CONCURRENCY in flight in all), then, with the N sessions held, PROBES
// round trips (a chat from one session to another, INFLIGHT at a time per driver: p50/p99/max),
// then every session sends K chats to the next user (messages/s until all arrived), then logout.
// One untimed warm-up round per server, then ROUNDS interleaved rounds; medians per metric.
//
//   pnpm bench:xmpp                                  # N=10000 K=10, 4 drivers, 3 rounds
//   N=5000 ROUNDS=1 WARMUP=0 pnpm bench:xmpp
//   EJABBERD=0 pnpm bench:xmpp                       # ours only (no ejabberd RATIO lines)
//   XMPP_NODE_FLAGS='--max-semi-space-size=16' …     # node flags of every chat-server process
//   DRIVER=xmpp-client pnpm bench:xmpp              # the @xmpp/client variant (main.ts's other half)
//   BACKEND=memory WORKERS=1 EJABBERD=0 …           # ours on the memory backend only
//   PAUSE_WORKER_MS=2000 …                           # SIGSTOP the last worker that long per message phase
//   PHASE_TIMEOUT_MS=30000 SERVER_LOG_LEVEL=warn …   # a shorter phase deadline; the servers' log level
//
// Every chat of the message phase that did not arrive is classified (FIGURE msgs-missing,
// msgs-bounced, msgs-to-closed; failed logins apart, examples printed), and the Redis commands per
// chat are printed from each private Redis's INFO commandstats.
//
// CPU is user + system time of every process a server is made of over a phase (ours: the primary,
// the workers and redis-server; ejabberd: its BEAM). RSS likewise (growth over the logins of the
// first round, per session).

import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '@otp-chat/redis-backend/testing';
import { figure, header, ratio } from '../lib.ts';
import { type ChatServerProcess, startChatServerProcess } from './chatServerProcess.ts';
import { startEjabberd } from './ejabberd.ts';
import type { RawReply, RawRequest } from './rawDriver.ts';
import type { ServerHandle } from './shared.ts';

const N = Number(process.env.N ?? 10_000);
const K = Number(process.env.K ?? 10);
const DRIVERS = Number(process.env.DRIVERS ?? 4);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 200);
const PROBES = Number(process.env.PROBES ?? 4000);
const INFLIGHT = Number(process.env.INFLIGHT ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WARMUP = Number(process.env.WARMUP ?? 1);
/** The workers default on this machine with a shared backend (one per core). */
const DEFAULT_WORKERS = Number(process.env.WORKERS ?? availableParallelism());
/** `memory`: ours on the memory backend, one worker (a Redis-free comparison). */
const BACKEND = process.env.BACKEND === 'memory' ? 'memory' : 'redis';
/**
 * Diagnosis: stop the last worker (SIGSTOP) this long at the start of each message phase, then let
 * it go on (SIGCONT): a long GC pause or a worker starved of a core, made deterministic.
 */
const PAUSE_WORKER_MS = Number(process.env.PAUSE_WORKER_MS ?? 0);
/** The private Redis of each of our servers (by server name), for its command counts. */
const redisOf = new Map<string, string>();

/** Redis commands served so far, by command (`INFO commandstats`); empty when not readable. */
function redisCommands(url: string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  if (url === undefined) return counts;
  try {
    const info = execFileSync('redis-cli', ['-u', url, 'INFO', 'commandstats'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) counts.set(m[1]!, Number(m[2]));
  } catch {
    // no redis-cli: no counts
  }
  return counts;
}

const NODE_FLAGS = process.env.XMPP_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

export interface RawRow {
  readonly server: string;
  readonly loginsPerSec: number;
  readonly msgsPerSec: number;
  readonly delivered: number;
  readonly failed: number;
  readonly loginCpu: number;
  readonly msgCpu: number;
  readonly driverLoginCpu: number;
  readonly rttP50: number;
  readonly rttP99: number;
  readonly rttMax: number;
  readonly rttLost: number;
  readonly rssPerSession: number;
}

/** The drivers, asked together; their answers combined. */
export class RawDrivers {
  private constructor(private readonly children: readonly ChildProcess[]) {}

  static async start(count: number, n: number): Promise<RawDrivers> {
    const children = Array.from({ length: count }, (_, slot) =>
      fork(
        fileURLToPath(new URL('./rawDriver.ts', import.meta.url)),
        [String(slot), String(count), `127.0.0.${2 + slot}`, String(n)],
        {
          execArgv: ['--import', 'tsx', ...(process.env.RAW_DRIVER_FLAGS?.split(' ').filter(Boolean) ?? [])],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      ),
    );
    await Promise.all(
      children.map((c) => new Promise<void>((resolve) => c.once('message', () => resolve()))),
    );
    return new RawDrivers(children);
  }

  ask<T extends RawReply['type']>(m: RawRequest, answer: T): Promise<Extract<RawReply, { type: T }>[]> {
    return Promise.all(
      this.children.map(
        (child) =>
          new Promise<Extract<RawReply, { type: T }>>((done) => {
            const onMessage = (r: RawReply) => {
              if (r.type !== answer) return;
              child.off('message', onMessage);
              done(r as Extract<RawReply, { type: T }>);
            };
            child.on('message', onMessage);
            child.send(m);
          }),
      ),
    );
  }

  stop(): void {
    for (const c of this.children) c.send({ type: 'exit' } satisfies RawRequest);
  }
}

export const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until every server is idle (under 2% of a core over 250 ms), at most 15 s. */
export async function settle(servers: readonly ServerHandle[]): Promise<void> {
  const t0 = Date.now();
  let before = await Promise.all(servers.map((s) => s.cpu()));
  while (Date.now() - t0 < 15_000) {
    await sleep(250);
    const now = await Promise.all(servers.map((s) => s.cpu()));
    if (now.every((c, i) => c - before[i]! < 0.006)) break;
    before = now;
  }
}

async function drive(
  drivers: RawDrivers,
  server: ServerHandle,
  all: readonly ServerHandle[],
): Promise<RawRow> {
  await settle(all);
  const rss0 = await server.rss();
  const byProcess = (server as Partial<ChatServerProcess>).cpuByProcess;
  const b0 = byProcess?.();
  const c0 = await server.cpu();
  const login = await drivers.ask(
    { type: 'login', port: server.port, concurrency: Math.ceil(CONCURRENCY / DRIVERS) },
    'logged-in',
  );
  const c1 = await server.cpu();
  const b1 = byProcess?.();
  if (b0 !== undefined && b1 !== undefined) {
    const parts = Object.keys(b1).map((k) => `${k} ${((1e6 * (b1[k]! - b0[k]!)) / N).toFixed(0)}`);
    process.stdout.write(`# ${server.name}: login CPU us per login by process: ${parts.join(', ')}\n`);
  }
  const rss1 = await server.rss();
  const failed = login.reduce((s, r) => s + r.failed, 0);
  const error = login.find((r) => r.error)?.error;
  if (failed > 0) process.stderr.write(`${server.name}: ${failed} logins failed (${error})\n`);
  await settle(all);
  const probes = await drivers.ask(
    { type: 'rtt', probes: Math.ceil(PROBES / DRIVERS), inFlight: INFLIGHT },
    'rtt',
  );
  const micros = probes.flatMap((p) => p.micros).sort((a, b) => a - b);
  await settle(all);
  const c2 = await server.cpu();
  const r0 = redisCommands(redisOf.get(server.name));
  await drivers.ask({ type: 'arm' }, 'armed');
  const paused = pauseLastWorker(server);
  const blast = await drivers.ask({ type: 'blast', k: K }, 'delivered');
  await paused;
  const c3 = await server.cpu();
  const r1 = redisCommands(redisOf.get(server.name));
  if (r1.size > 0) {
    const chats = N * K;
    const per = [...r1]
      .map(([cmd, n]) => [cmd, (n - (r0.get(cmd) ?? 0)) / chats] as const)
      .filter(([, x]) => x >= 0.01)
      .sort((a, b) => b[1] - a[1])
      .map(([cmd, x]) => `${cmd} ${x.toFixed(2)}`);
    process.stdout.write(
      `# ${server.name}: Redis commands per chat in the message phase: ${per.join(', ')}\n`,
    );
  }
  const misses = classifyMisses(new Set(login.flatMap((r) => r.failedUsers)), blast);
  printMisses(server.name, misses);
  const early = blast.reduce((s, r) => s + r.early, 0);
  process.stdout.write(
    `# ${server.name}: ${early} chats reached a driver before it was asked to send (counted since 'arm')\n`,
  );
  await drivers.ask({ type: 'logout' }, 'logged-out');
  const loggedIn = N - failed;
  const delivered = blast.reduce((s, r) => s + r.received, 0);
  return {
    server: server.name,
    loginsPerSec: loggedIn / Math.max(...login.map((r) => r.sec)),
    msgsPerSec: delivered / Math.max(...blast.map((r) => r.sec)),
    delivered,
    failed,
    loginCpu: c1 - c0,
    msgCpu: c3 - c2,
    driverLoginCpu: login.reduce((s, r) => s + r.cpu, 0),
    rttP50: percentile(micros, 50),
    rttP99: percentile(micros, 99),
    rttMax: micros.at(-1) ?? Number.NaN,
    rttLost: probes.reduce((s, p) => s + p.lost, 0),
    rssPerSession: (rss1 - rss0) / Math.max(1, loggedIn),
  };
}

async function pauseLastWorker(server: ServerHandle): Promise<void> {
  const pids = (server as Partial<ChatServerProcess>).pids;
  if (PAUSE_WORKER_MS <= 0 || pids === undefined || pids.length < 2) return;
  const pid = pids.at(-1)!;
  process.kill(pid, 'SIGSTOP');
  process.stdout.write(`# ${server.name}: worker pid ${pid} stopped for ${PAUSE_WORKER_MS} ms\n`);
  await sleep(PAUSE_WORKER_MS);
  process.kill(pid, 'SIGCONT');
}

/**
 * Every chat of the message phase that did not arrive as a chat, by why (user i sends K to i+1):
 * - `notSent`: its sender's login failed (the driver's accounting, not a loss);
 * - `toAbsent`: its receiver's login failed; of those `toAbsentBounced` came back as errors (the
 *   rest went to offline storage, or nowhere);
 * - `bounced`: both logged in, the sender got it back as a `type='error'` message;
 * - `toClosed`: the receiver's connection was closed by the server during the phase;
 * - `missing`: both logged in and connected, neither delivered nor bounced — lost without a word.
 */
interface Misses {
  notSent: number;
  toAbsent: number;
  toAbsentBounced: number;
  bounced: number;
  toClosed: number;
  missing: number;
  /** Sessions whose IQ after the phase was not answered (a stuck connection). */
  silent: number;
  readonly examples: string[];
}

function classifyMisses(
  failed: ReadonlySet<number>,
  blast: readonly Extract<RawReply, { type: 'delivered' }>[],
): Misses {
  const short = new Map(blast.flatMap((b) => b.short));
  const bounced = new Map(
    blast.flatMap((b) => b.bounced.map(([u, count, first]) => [u, { count, first }] as const)),
  );
  const closed = new Map(blast.flatMap((b) => b.closed));
  const silent = new Set(blast.flatMap((b) => b.silent));
  const state = (u: number) => (silent.has(u) ? 'did NOT answer an IQ after the phase' : 'answers IQs');
  const m: Misses = {
    notSent: 0,
    toAbsent: 0,
    toAbsentBounced: 0,
    bounced: 0,
    toClosed: 0,
    missing: 0,
    silent: silent.size,
    examples: [],
  };
  const example = (line: string) => {
    if (m.examples.length < 12) m.examples.push(line);
  };
  for (let r = 0; r < N; r++) {
    const s = (r + N - 1) % N;
    const back = bounced.get(s);
    if (failed.has(s)) {
      if (!failed.has(r)) m.notSent += K - (short.get(r) ?? K);
      continue;
    }
    if (failed.has(r)) {
      m.toAbsent += K;
      m.toAbsentBounced += back?.count ?? 0;
      continue;
    }
    const got = short.get(r);
    if (got === undefined) continue;
    const lost = K - got;
    const b = Math.min(lost, back?.count ?? 0);
    m.bounced += b;
    if (b > 0) example(`u${s}→u${r}: ${b} bounced, e.g. ${back!.first.slice(0, 400)}`);
    const rest = lost - b;
    if (rest === 0) continue;
    if (closed.has(r)) {
      m.toClosed += rest;
      example(
        `u${s}→u${r}: ${rest} not received, u${r}'s connection closed: ${closed.get(r)!.slice(0, 300)}`,
      );
    } else {
      m.missing += rest;
      example(
        `u${s}→u${r}: ${rest} of ${K} never received, no bounce, u${r} still connected; sender u${s} ${state(s)}, receiver u${r} ${state(r)}`,
      );
    }
  }
  return m;
}

function printMisses(server: string, m: Misses): void {
  process.stdout.write(
    `# ${server}: chats not delivered: missing ${m.missing}, bounced ${m.bounced}, to a closed connection ${m.toClosed}, ` +
      `to a failed login ${m.toAbsent} (${m.toAbsentBounced} bounced), not sent (sender's login failed) ${m.notSent}\n`,
  );
  for (const e of m.examples) process.stdout.write(`#   ${e}\n`);
  if (m.silent > 0)
    process.stdout.write(`# ${server}: ${m.silent} sessions did not answer an IQ after the phase\n`);
  figure('msgs-missing', m.missing, 'msgs');
  figure('msgs-bounced', m.bounced, 'msgs');
  figure('msgs-to-closed', m.toClosed, 'msgs');
}

function printRows(rows: readonly RawRow[]): void {
  const cells = (c: readonly string[]) =>
    `${c[0]!.padEnd(22)}${c
      .slice(1)
      .map((x) => x.padStart(11))
      .join('')}\n`;
  process.stdout.write(
    cells([
      'server',
      'logins/s',
      'msgs/s',
      'delivered',
      'us CPU/lgn',
      'us CPU/msg',
      'rtt p50 us',
      'p99 us',
      'max us',
      'lost',
      'RSS B/sess',
    ]),
  );
  for (const r of rows) {
    process.stdout.write(
      cells([
        r.server,
        r.loginsPerSec.toFixed(0),
        r.msgsPerSec.toFixed(0),
        `${r.delivered}`,
        ((r.loginCpu / N) * 1e6).toFixed(0),
        ((r.msgCpu / Math.max(1, r.delivered)) * 1e6).toFixed(1),
        r.rttP50.toFixed(0),
        r.rttP99.toFixed(0),
        r.rttMax.toFixed(0),
        String(r.rttLost),
        r.rssPerSession.toFixed(0),
      ]),
    );
  }
  process.stdout.write('\n');
}

/** The per-metric median of one server's rounds. */
function median(rows: readonly RawRow[]): RawRow {
  const mid = (key: (x: RawRow) => number) =>
    rows.map(key).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
  return {
    server: rows[0]!.server,
    loginsPerSec: mid((x) => x.loginsPerSec),
    msgsPerSec: mid((x) => x.msgsPerSec),
    delivered: Math.min(...rows.map((x) => x.delivered)),
    failed: Math.max(...rows.map((x) => x.failed)),
    loginCpu: mid((x) => x.loginCpu),
    msgCpu: mid((x) => x.msgCpu),
    driverLoginCpu: mid((x) => x.driverLoginCpu),
    rttP50: mid((x) => x.rttP50),
    rttP99: mid((x) => x.rttP99),
    rttMax: mid((x) => x.rttMax),
    rttLost: Math.max(...rows.map((x) => x.rttLost)),
    rssPerSession: rows[0]!.rssPerSession,
  };
}

export async function rawBench(): Promise<void> {
  header(
    `xmpp (raw-socket driver): otp-chat (--backend redis, ${DEFAULT_WORKERS} workers and 1 worker) vs ejabberd 23.01, ` +
      `N=${N} sessions, K=${K} messages each, ${DRIVERS} driver processes on 127.0.0.2…, ${CONCURRENCY} logins in flight, ` +
      `SASL PLAIN, passwords stored plain, ${PROBES} round-trip probes with the sessions held (${INFLIGHT} in flight per driver), ` +
      `${WARMUP} warm-up + ${ROUNDS} interleaved rounds (median per metric)`,
  );
  // One redis-server per otp-chat server: Redis pub/sub ignores the database number, so two
  // servers on one Redis would hear each other's cluster announcements and cache invalidations.
  const redises: RedisServer[] = [];
  const servers: ServerHandle[] = [];
  let drivers: RawDrivers | undefined;
  try {
    const ours = async (workers: number): Promise<ChatServerProcess> => {
      const redis = await RedisServer.start();
      redises.push(redis);
      redisOf.set(`otp-chat ${workers} worker${workers === 1 ? '' : 's'}`, redis.url);
      return startChatServerProcess({
        name: `otp-chat ${workers} worker${workers === 1 ? '' : 's'}`,
        workers,
        n: N,
        redisUrl: redis.url,
        redisPid: BACKEND === 'memory' ? undefined : redis.pid,
        nodeFlags: NODE_FLAGS,
        backend: BACKEND,
      });
    };
    servers.push(await ours(DEFAULT_WORKERS));
    if (DEFAULT_WORKERS !== 1) servers.push(await ours(1));
    if (process.env.EJABBERD !== '0') {
      const started = await startEjabberd({ n: N });
      if (typeof started === 'string') process.stdout.write(`# ejabberd skipped: ${started}\n`);
      else servers.push(started);
    }
    drivers = await RawDrivers.start(DRIVERS, N);
    // RSS growth is only meaningful for a fresh process (later rounds reuse freed pages): it is
    // taken from each server's first round, warm-up or not.
    const first: (RawRow | undefined)[] = servers.map(() => undefined);
    for (let round = 0; round < WARMUP; round++) {
      for (const [i, s] of servers.entries()) {
        const row = await drive(drivers, s, servers);
        first[i] ??= row;
      }
    }
    const results: RawRow[][] = servers.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, s] of servers.entries()) results[i]!.push(await drive(drivers, s, servers));
    }
    process.stdout.write('each round:\n');
    printRows(results.flat());
    const rows = results.map((r, i) => ({ ...median(r), rssPerSession: (first[i] ?? r[0]!).rssPerSession }));
    process.stdout.write('median (RSS B/sess: growth of the fresh processes in their first round):\n');
    printRows(rows);
    const o = rows[0]!;
    const one = DEFAULT_WORKERS === 1 ? undefined : rows[1];
    const ej = rows.find((r) => r.server.startsWith('ejabberd'));
    const perLogin = (r: RawRow) => (r.loginCpu / N) * 1e6;
    const perMsg = (r: RawRow) => (r.msgCpu / Math.max(1, r.delivered)) * 1e6;
    if (ej !== undefined) {
      ratio('logins-vs-ejabberd', o.loginsPerSec / ej.loginsPerSec);
      ratio('cpu-per-login-vs-ejabberd-ours-over-theirs-lower-is-better', perLogin(o) / perLogin(ej));
      ratio('msgs-vs-ejabberd', o.msgsPerSec / ej.msgsPerSec);
      ratio('p99-vs-ejabberd', ej.rttP99 / o.rttP99);
      ratio('rss-per-session-vs-ejabberd', ej.rssPerSession / o.rssPerSession);
      figure('ejabberd-logins-per-sec', ej.loginsPerSec, 'logins/s');
      figure('ejabberd-rtt-p99', ej.rttP99, 'us');
    }
    if (one !== undefined) ratio('workers-scaling', o.loginsPerSec / one.loginsPerSec);
    figure('otp-chat-logins-per-sec', o.loginsPerSec, 'logins/s');
    figure('otp-chat-msgs-per-sec', o.msgsPerSec, 'msgs/s');
    figure('otp-chat-cpu-us-per-login', perLogin(o), 'us');
    figure('otp-chat-cpu-us-per-msg', perMsg(o), 'us');
    figure('otp-chat-rtt-p50', o.rttP50, 'us');
    figure('otp-chat-rtt-p99', o.rttP99, 'us');
    figure('otp-chat-rtt-max', o.rttMax, 'us');
    figure('otp-chat-rss-per-session', o.rssPerSession, 'B');
    figure('driver-cpu-us-per-login', (o.driverLoginCpu / N) * 1e6, 'us');
  } finally {
    drivers?.stop();
    for (const s of servers) await s.stop();
    for (const r of redises) await r.stop();
  }
}
