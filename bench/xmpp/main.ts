// bench/xmpp (pnpm bench:xmpp). By default the raw-socket variant (rawBench.ts: the chat server with
// its workers, 5k–10k sessions, a lean driver; the RATIO lines of the issue). With
// DRIVER=xmpp-client, the variant below, labelled `xmpp-client-` in its RATIO and FIGURE lines:
// the otp-chat XMPP server (in-process, one process) against ejabberd 23.01 (Debian), same load driver, same
// N and K, one run. The driver is @xmpp/client (PLAIN over plain TCP on loopback): N users log in
// with bounded concurrency, then each sends K chat messages to the next user's full JID; we
// measure logins/s, messages/s end to end (until every message arrived) and the server's memory
// per session. Each server runs in its own process (ours: a forked Node with --expose-gc).
//
// Three programs: this one (main.ts) runs the rounds and prints the results; otpChatServer.ts is the
// otp-chat server process; driver.ts is a load driver process. ejabberd.ts starts the baseline.
//
//   npx tsx bench/xmpp/main.ts                 # N=500 K=20, ours then ejabberd
//   N=1000 K=20 CONCURRENCY=50 npx tsx bench/xmpp/main.ts
//   EJABBERD=0 npx tsx bench/xmpp/main.ts      # ours only (no RATIO lines)
//   ROUNDS=3 WARMUP=1 (defaults): one untimed round per server, then interleaved measured rounds;
//   the median of each metric is kept (the machine is shared, single rounds are noisy).
//   PASSWORD_FORMAT=scram   both servers store SCRAM keys only (ejabberd `auth_password_format`)
//   MECHANISM=SCRAM-SHA-1   the driver logs in with SCRAM instead of PLAIN
//   DRIVERS=2               driver processes per server (default 1)
//   XMPP_CPU_PROF=dir       V8 CPU profile of the otp-chat child; DRIVER_NODE_FLAGS for the driver
//   TRANSPORT=starttls      (this variant, whatever DRIVER) both servers offer STARTTLS with a
//                           self-signed certificate and the driver takes it: RATIO
//                           tls-logins-vs-ejabberd, tls-msgs-vs-ejabberd
//   TRANSPORT=ws            (this variant) otp-chat only, WebSocket (RFC 7395) and TCP rounds
//                           interleaved on one server: RATIO ws-vs-tcp (messages/s)
//
// Both servers do the same protocol work: the default config stores plain passwords on both
// (ejabberd's default `auth_password_format: plain`, MemoryUserStore's default), so a PLAIN login
// is a string comparison on both and neither runs PBKDF2. With PASSWORD_FORMAT=scram both store
// only the SCRAM keys (4096 iterations), and a PLAIN login runs one PBKDF2 on both.
//
// ejabberd: `apt-get install ejabberd` first. The script writes a config to a temp dir owned by
// the ejabberd user (loopback only, in-memory sessions, plain TCP, ulimit -n raised), registers
// the users over distributed Erlang, and stops the node at the end. Memory is compared as each
// VM accounts for it after the logins minus before: erlang:memory(total) for ejabberd, V8 heap
// used + external after a full GC for otp-chat; RSS deltas of both processes are printed as well.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { figure, header, ratio } from '../lib.ts';
import { startEjabberd } from './ejabberd.ts';
import {
  CONCURRENCY,
  DRIVERS,
  type DriverReply,
  type DriverRequest,
  K,
  MECHANISM,
  N,
  PASSWORD_FORMAT,
  type Row,
  type ServerHandle,
  TRANSPORT,
} from './shared.ts';

// ---------------------------------------------------------------------------------------------
// otp-chat in a child process (otpChatServer.ts)

function startOtpChat(): Promise<ServerHandle[]> {
  const child = fork(fileURLToPath(new URL('./otpChatServer.ts', import.meta.url)), [String(N)], {
    execArgv: [
      '--import',
      'tsx',
      '--expose-gc',
      ...(process.env.XMPP_NODE_FLAGS ? process.env.XMPP_NODE_FLAGS.split(' ') : []),
      ...(process.env.XMPP_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.XMPP_CPU_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = () =>
    new Promise<{ vm: number; rss: number }>((resolve) => {
      const onMessage = (m: { type: string; vm: number; rss: number }) => {
        if (m.type !== 'memory') return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send({ type: 'memory' });
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { type: string; port?: number; wsPort?: number; cert?: string }) => {
      if (m.type !== 'ready') return;
      const tcp: ServerHandle = {
        name: TRANSPORT === 'starttls' ? 'otp-chat tls' : 'otp-chat',
        port: m.port!,
        transport: 'xmpp',
        ...(m.cert === undefined ? {} : { cert: m.cert }),
        memory: async () => (await ask()).vm,
        rss: async () => (await ask()).rss,
        cpu: () =>
          new Promise<number>((done) => {
            const onMessage = (msg: { type: string; cpu: number }) => {
              if (msg.type !== 'cpu') return;
              child.off('message', onMessage);
              done(msg.cpu);
            };
            child.on('message', onMessage);
            child.send({ type: 'cpu' });
          }),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.send({ type: 'stop' });
          }),
      };
      // TRANSPORT=ws: the same server process through its WebSocket endpoint, then over TCP.
      resolve(
        m.wsPort === undefined
          ? [tcp]
          : [
              { ...tcp, name: 'otp-chat ws', port: m.wsPort, transport: 'ws' },
              { ...tcp, name: 'otp-chat tcp' },
            ],
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the load drivers (driver.ts), one process per DRIVERS slot

/** The driver processes, asked together; their answers are combined (times: max, counts and CPU: sum). */
interface Driver {
  login(server: ServerHandle): Promise<{ sec: number; cpu: number }>;
  blast(): Promise<{ sec: number; cpu: number; received: number }>;
  logout(): Promise<void>;
  stop(): void;
}

async function startDrivers(): Promise<Driver> {
  const children = Array.from({ length: DRIVERS }, (_, slot) =>
    fork(fileURLToPath(new URL('./driver.ts', import.meta.url)), [String(slot)], {
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.DRIVER_NODE_FLAGS ?? '--max-semi-space-size=32').split(' '),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.once('error', reject);
          child.once('message', () => resolve());
        }),
    ),
  );
  const ask = <T extends DriverReply['type']>(m: DriverRequest, answer: T) =>
    Promise.all(
      children.map(
        (child) =>
          new Promise<Extract<DriverReply, { type: T }>>((done) => {
            const onMessage = (r: DriverReply) => {
              if (r.type !== answer) return;
              child.off('message', onMessage);
              done(r as Extract<DriverReply, { type: T }>);
            };
            child.on('message', onMessage);
            child.send(m);
          }),
      ),
    );
  const max = (xs: readonly { sec: number }[]) => Math.max(...xs.map((x) => x.sec));
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    login: async (server) => {
      const request = {
        type: 'login',
        port: server.port,
        transport: server.transport,
        cert: server.cert,
      } as const;
      const r = await ask(request, 'logged-in');
      return { sec: max(r), cpu: sum(r.map((x) => x.cpu)) };
    },
    blast: async () => {
      await ask({ type: 'arm' }, 'armed');
      const r = await ask({ type: 'blast' }, 'delivered');
      return { sec: max(r), cpu: sum(r.map((x) => x.cpu)), received: sum(r.map((x) => x.received)) };
    },
    logout: async () => {
      await ask({ type: 'logout' }, 'logged-out');
    },
    stop: () => {
      for (const child of children) child.send({ type: 'exit' });
    },
  };
}

async function drive(driver: Driver, server: ServerHandle, all: readonly ServerHandle[]): Promise<Row> {
  const memBefore = await server.memory();
  const rssBefore = await server.rss();
  await settle(all); // ejabberd's memory() is an `erl` RPC: let its node connection go quiet
  const cpus = () => Promise.all(all.map((s) => s.cpu()));
  // Two handles of one process (TRANSPORT=ws) share its CPU: count it once, as "mine".
  const same = (s: ServerHandle) => s.cpu === server.cpu;
  const others = (a: number[], b: number[]) =>
    b.reduce((sum, c, i) => (same(all[i]!) ? sum : sum + c - a[i]!), 0);
  const mine = (a: number[], b: number[]) => b[all.indexOf(server)]! - a[all.indexOf(server)]!;
  const s0 = await cpus();
  const login = await driver.login(server);
  const s1 = await cpus();
  const memAfter = await server.memory();
  const rssAfter = await server.rss();
  await settle(all);
  const s2 = await cpus();
  const msgs = await driver.blast();
  const s3 = await cpus();
  await driver.logout();
  return {
    server: server.name,
    cpu: {
      loginServer: mine(s0, s1),
      loginDriver: login.cpu,
      loginOthers: others(s0, s1),
      msgServer: mine(s2, s3),
      msgDriver: msgs.cpu,
      msgOthers: others(s2, s3),
    },
    loginsPerSec: N / login.sec,
    msgsPerSec: msgs.received / msgs.sec,
    delivered: msgs.received,
    bytesPerSession: (memAfter - memBefore) / N,
    rssPerSession: (rssAfter - rssBefore) / N,
  };
}

function printRows(rows: readonly Row[]): void {
  const line = (cells: readonly string[]) =>
    `${cells[0]!.padEnd(16)}${cells
      .slice(1)
      .map((c) => c.padStart(14))
      .join('')}\n`;
  process.stdout.write(line(['server', 'logins/s', 'msgs/s', 'delivered', 'B/session', 'RSS B/sess']));
  for (const r of rows) {
    process.stdout.write(
      line([
        r.server,
        r.loginsPerSec.toFixed(0),
        r.msgsPerSec.toFixed(0),
        `${r.delivered}/${N * K}`,
        r.bytesPerSession.toFixed(0),
        r.rssPerSession.toFixed(0),
      ]),
    );
  }
  process.stdout.write('\n');
  process.stdout.write('CPU seconds (server / driver / other server): login phase, message phase\n');
  for (const r of rows) {
    const c = r.cpu;
    process.stdout.write(
      `${r.server.padEnd(16)}${c.loginServer.toFixed(2)} / ${c.loginDriver.toFixed(2)} / ${c.loginOthers.toFixed(2)}, ` +
        `${c.msgServer.toFixed(2)} / ${c.msgDriver.toFixed(2)} / ${c.msgOthers.toFixed(2)}\n`,
    );
  }
  process.stdout.write('\n');
}

/** The per-metric median of several rounds of one server (the machine is shared: rounds are noisy). */
function median(rows: readonly Row[]): Row {
  const mid = <T>(xs: T[], key: (x: T) => number) =>
    xs.map(key).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const r = [...rows];
  return {
    server: rows[0]!.server,
    loginsPerSec: mid(r, (x) => x.loginsPerSec),
    msgsPerSec: mid(r, (x) => x.msgsPerSec),
    delivered: Math.min(...r.map((x) => x.delivered)),
    bytesPerSession: mid(r, (x) => x.bytesPerSession),
    rssPerSession: r[0]!.rssPerSession,
    cpu: {
      loginServer: mid(r, (x) => x.cpu.loginServer),
      loginDriver: mid(r, (x) => x.cpu.loginDriver),
      msgServer: mid(r, (x) => x.cpu.msgServer),
      msgDriver: mid(r, (x) => x.cpu.msgDriver),
      loginOthers: mid(r, (x) => x.cpu.loginOthers),
      msgOthers: mid(r, (x) => x.cpu.msgOthers),
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every server is idle (under 4% of a core over 250 ms, at most 10 s), so that one
 * server's teardown of the previous round (closing 1000 sessions, BEAM's process exits and
 * table deletes) does not run during the other's measured phases. Returns the seconds waited.
 */
async function settle(servers: readonly ServerHandle[]): Promise<number> {
  const t0 = Date.now();
  await sleep(250);
  let before = await Promise.all(servers.map((s) => s.cpu()));
  while (Date.now() - t0 < 10_000) {
    await sleep(250);
    const now = await Promise.all(servers.map((s) => s.cpu()));
    if (now.every((c, i) => c - before[i]! < 0.01)) break;
    before = now;
  }
  return (Date.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 3);
  header(
    `xmpp (variant: @xmpp/client driver): otp-chat vs ejabberd over ${TRANSPORT}, N=${N} users, K=${K} messages each, login concurrency ${CONCURRENCY}, ` +
      `${DRIVERS} driver process(es) per server, SASL ${MECHANISM}, passwords stored ${PASSWORD_FORMAT}, ` +
      `${process.env.WARMUP ?? 1} warm-up + ${rounds} interleaved rounds (median per metric)`,
  );
  const drivers: Driver[] = [];
  const servers: ServerHandle[] = await startOtpChat();
  try {
    if (process.env.EJABBERD !== '0' && TRANSPORT !== 'ws') {
      const started = await startEjabberd();
      if (typeof started === 'string') process.stdout.write(`# ejabberd skipped: ${started}\n`);
      else servers.push(started);
    }
    for (const _ of servers) drivers.push(await startDrivers());
    // One untimed round per server first: the JITs (V8's and BEAM's) and the servers' tables
    // warm up, as bench/lib's measure() does with its warm-up rounds.
    const warmup = Number(process.env.WARMUP ?? 1);
    const first: Row[][] = servers.map(() => []);
    for (let round = 0; round < warmup; round++) {
      for (let i = 0; i < servers.length; i++) {
        first[i]!.push(await drive(drivers[i]!, servers[i]!, servers));
        await settle(servers);
      }
    }
    const results: Row[][] = servers.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < servers.length; i++) {
        results[i]!.push(await drive(drivers[i]!, servers[i]!, servers));
        await settle(servers); // let the closed sessions go before the next baseline
      }
    }
    process.stdout.write('each round:\n');
    printRows(results.flat());
    // RSS growth is only meaningful for a fresh process (later rounds reuse freed pages): it is
    // taken from each server's first round, warm-up or not.
    const rows = results.map((r, i) => ({
      ...median(r),
      rssPerSession: (first[i]![0] ?? r[0]!).rssPerSession,
    }));
    process.stdout.write('median (RSS B/sess: growth of the fresh process in its first round):\n');
    printRows(rows);
    const o = rows[0]!;
    if (TRANSPORT === 'ws') {
      const tcp = rows[1]!;
      ratio('ws-vs-tcp', o.msgsPerSec / tcp.msgsPerSec);
      ratio('ws-logins-vs-tcp', o.loginsPerSec / tcp.loginsPerSec);
      figure('otp-chat-ws-msgs-per-sec', o.msgsPerSec, 'msgs/s');
      figure('otp-chat-tcp-msgs-per-sec', tcp.msgsPerSec, 'msgs/s');
    }
    const ej = TRANSPORT === 'ws' ? undefined : rows[1];
    // The names over STARTTLS; this variant's own otherwise (bench:xmpp's raw driver has the plain ones).
    const tlsPrefix = TRANSPORT === 'starttls' ? 'tls-' : 'xmpp-client-';
    if (ej !== undefined) {
      ratio(`${tlsPrefix}logins-vs-ejabberd`, o.loginsPerSec / ej.loginsPerSec);
      ratio(`${tlsPrefix}msgs-vs-ejabberd`, o.msgsPerSec / ej.msgsPerSec);
      ratio(`${tlsPrefix}memory-vs-ejabberd`, ej.bytesPerSession / o.bytesPerSession);
      ratio(`${tlsPrefix}rss-memory-vs-ejabberd`, ej.rssPerSession / o.rssPerSession);
      figure(`${tlsPrefix}ejabberd-bytes-per-session`, ej.bytesPerSession, 'B');
    }
    // Server CPU per operation (user + system of the server process over the phase, medians):
    // what each server costs, whatever the driver's share of the 2 cores.
    const perLogin = (r: Row) => (r.cpu.loginServer / N) * 1e6;
    const perMsg = (r: Row) => (r.cpu.msgServer / Math.max(1, r.delivered)) * 1e6;
    if (ej !== undefined) {
      ratio(`${tlsPrefix}cpu-per-login-vs-ejabberd`, perLogin(ej) / perLogin(o));
      ratio(`${tlsPrefix}cpu-per-msg-vs-ejabberd`, perMsg(ej) / perMsg(o));
      figure(`${tlsPrefix}ejabberd-cpu-us-per-login`, perLogin(ej), 'us');
      figure(`${tlsPrefix}ejabberd-cpu-us-per-msg`, perMsg(ej), 'us');
    }
    figure('xmpp-client-otp-chat-cpu-us-per-login', perLogin(o), 'us');
    figure('xmpp-client-otp-chat-cpu-us-per-msg', perMsg(o), 'us');
    figure('xmpp-client-driver-cpu-us-per-login', (o.cpu.loginDriver / N) * 1e6, 'us');
    figure('xmpp-client-driver-cpu-us-per-msg', (o.cpu.msgDriver / Math.max(1, o.delivered)) * 1e6, 'us');
    figure('xmpp-client-otp-chat-logins-per-sec', o.loginsPerSec, 'logins/s');
    figure('xmpp-client-otp-chat-msgs-per-sec', o.msgsPerSec, 'msgs/s');
    figure('xmpp-client-otp-chat-bytes-per-session', o.bytesPerSession, 'B');
    figure('xmpp-client-otp-chat-rss-bytes-per-session', o.rssPerSession, 'B');
  } finally {
    for (const d of drivers) d.stop();
    for (const s of servers) await s.stop();
  }
}

// TRANSPORT=starttls or ws needs a TLS and WebSocket client: this variant's.
if (process.env.DRIVER === 'xmpp-client' || TRANSPORT !== 'tcp') await main();
else await (await import('./rawBench.ts')).rawBench();
