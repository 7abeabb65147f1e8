// bench/xmpp: the otp-chat XMPP server against ejabberd 23.01 (Debian), same load driver, same
// N and K, one run. The driver is @xmpp/client (PLAIN over plain TCP on loopback): N users log in
// with bounded concurrency, then each sends K chat messages to the next user's full JID; we
// measure logins/s, messages/s end to end (until every message arrived) and the server's memory
// per session. Each server runs in its own process (ours: a forked Node with --expose-gc).
//
//   npx tsx bench/xmpp.ts                 # N=500 K=20, ours then ejabberd
//   N=1000 K=20 CONCURRENCY=50 npx tsx bench/xmpp.ts
//   EJABBERD=0 npx tsx bench/xmpp.ts      # ours only (no RATIO lines)
//   ROUNDS=3 WARMUP=1 (defaults): one untimed round per server, then interleaved measured rounds;
//   the median of each metric is kept (the machine is shared, single rounds are noisy).
//   PASSWORD_FORMAT=scram   both servers store SCRAM keys only (ejabberd `auth_password_format`)
//   MECHANISM=SCRAM-SHA-1   the driver logs in with SCRAM instead of PLAIN
//   DRIVERS=2               driver processes per server (default 1)
//   XMPP_CPU_PROF=dir       V8 CPU profile of the otp-chat child; DRIVER_NODE_FLAGS for the driver
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
import { execFile, execFileSync, fork } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { MemoryUserStore, modOffline, modPing, XmppServer } from '@otp-chat/xmpp';
import { connectClient, type TestClient, xml } from '@otp-chat/xmpp/testing';
import { figure, header, ratio } from './lib.ts';

const run = promisify(execFile);
const N = Number(process.env.N ?? 500);
const K = Number(process.env.K ?? 20);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
/** Driver processes; each logs in users `i ≡ d (mod DRIVERS)` with CONCURRENCY / DRIVERS logins in flight. */
const DRIVERS = Number(process.env.DRIVERS ?? 1);
/**
 * How both servers store passwords: `plain` (ejabberd's default `auth_password_format`, and
 * MemoryUserStore's) or `scram` (salt, iteration count 4096, StoredKey and ServerKey only: a
 * PLAIN login then costs one PBKDF2 on both servers).
 */
const PASSWORD_FORMAT = process.env.PASSWORD_FORMAT === 'scram' ? 'scram' : 'plain';
/** The driver's SASL mechanism: PLAIN (default) or SCRAM-SHA-1 (then the driver runs PBKDF2 too). */
const MECHANISM = process.env.MECHANISM === 'SCRAM-SHA-1' ? 'SCRAM-SHA-1' : 'PLAIN';
const DOMAIN = 'localhost';
const PASSWORD = 'secret';
const user = (i: number) => `u${i}`;

interface ServerHandle {
  readonly name: string;
  readonly port: number;
  /** VM-accounted bytes (see the header comment). */
  memory(): Promise<number>;
  /** Resident set size of the server process, bytes. */
  rss(): Promise<number>;
  /** CPU seconds the server process used so far (user + system). */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

interface Row {
  readonly server: string;
  /** Server, driver and idle-server CPU seconds during the login phase and the message phase. */
  readonly cpu: {
    readonly loginServer: number;
    readonly loginDriver: number;
    readonly msgServer: number;
    readonly msgDriver: number;
    /** CPU seconds the other (idle) server used meanwhile: interference, should be ~0. */
    readonly loginOthers: number;
    readonly msgOthers: number;
  };
  readonly loginsPerSec: number;
  readonly msgsPerSec: number;
  readonly delivered: number;
  readonly bytesPerSession: number;
  readonly rssPerSession: number;
}

// ---------------------------------------------------------------------------------------------
// otp-chat in a child process

function startOtpChat(): Promise<ServerHandle> {
  const child = fork(fileURLToPath(import.meta.url), ['--otp-chat-server', String(N)], {
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
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type !== 'ready') return;
      resolve({
        name: 'otp-chat',
        port: m.port!,
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
            child.once('exit', () => done());
            child.send({ type: 'stop' });
          }),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// ejabberd 23.01 from Debian

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const EJABBERD_YML = (port: number) => `hosts: [${DOMAIN}]
loglevel: warning
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    backlog: 1024
    access: c2s
    starttls_required: false
auth_method: internal
auth_password_format: ${PASSWORD_FORMAT}
sm_db_type: mnesia
router_db_type: mnesia
shaper_rules:
  max_user_sessions: 10
access_rules:
  c2s:
    allow: all
  local:
    allow: local
acl:
  local:
    user_regexp: ""
api_permissions:
  "console commands":
    from: [ejabberd_ctl]
    who: all
    what: "*"
modules:
  mod_disco: {}
  mod_ping: {}
  mod_offline: {}
`;

function pidsOf(name: string): Set<string> {
  try {
    return new Set(execFileSync('pgrep', ['-x', name]).toString().trim().split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

async function startEjabberd(): Promise<ServerHandle | string> {
  try {
    execFileSync('which', ['ejabberdctl']);
  } catch {
    return 'ejabberdctl not found (apt-get install ejabberd)';
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'otp-chat-ejabberd-'));
  const node = `otpchat${process.pid}@localhost`;
  for (const sub of ['spool', 'logs', 'run']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'ejabberd.yml'), EJABBERD_YML(port));
  writeFileSync(
    join(dir, 'ejabberdctl.cfg'),
    `ERLANG_NODE=${node}\nINET_DIST_INTERFACE=127.0.0.1\nEJABBERD_PID_PATH=${join(dir, 'run', 'ejabberd.pid')}\n`,
  );
  const uid = Number(execFileSync('id', ['-u', 'ejabberd']).toString());
  const gid = Number(execFileSync('id', ['-g', 'ejabberd']).toString());
  for (const p of ['', 'spool', 'logs', 'run', 'ejabberd.yml', 'ejabberdctl.cfg'])
    chownSync(join(dir, p), uid, gid);
  const ctl = [
    '--ctl-config',
    join(dir, 'ejabberdctl.cfg'),
    '--config',
    join(dir, 'ejabberd.yml'),
    '--spool',
    join(dir, 'spool'),
    '--logs',
    join(dir, 'logs'),
    '--node',
    node,
  ];
  const epmdBefore = pidsOf('epmd');
  const stop = async () => {
    try {
      await run('ejabberdctl', [...ctl, 'stop'], { timeout: 60_000 });
      await run('ejabberdctl', [...ctl, 'stopped'], { timeout: 60_000 });
    } finally {
      // Only an epmd this run started is ours to stop.
      for (const p of pidsOf('epmd')) if (!epmdBefore.has(p)) process.kill(Number(p));
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const shell = `ulimit -n 20000; cd ${dir}/spool; ejabberdctl ${ctl.join(' ')} start`;
  await run('su', ['-s', '/bin/bash', 'ejabberd', '-c', shell]);
  try {
    return await prepareEjabberd(ctl, node, port, dir, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function prepareEjabberd(
  ctl: readonly string[],
  node: string,
  port: number,
  dir: string,
  stop: () => Promise<void>,
): Promise<ServerHandle> {
  await run('ejabberdctl', [...ctl, 'started'], { timeout: 60_000 });
  const cookie = readFileSync('/var/lib/ejabberd/.erlang.cookie', 'utf8').trim();
  const rpc = async (expr: string): Promise<string> => {
    const { stdout } = await run(
      'erl',
      [
        '-sname',
        `bench${process.pid}${Math.floor(Math.random() * 1e6)}@localhost`,
        '-setcookie',
        cookie,
        '-noshell',
        '-eval',
        `N='${node}', R=begin ${expr} end, io:format("~p~n", [R]), init:stop().`,
      ],
      { timeout: 120_000, cwd: dir },
    );
    return stdout.trim();
  };
  await rpc(
    `[rpc:call(N, ejabberd_auth, try_register, [list_to_binary("u"++integer_to_list(I)), <<"${DOMAIN}">>, <<"${PASSWORD}">>]) || I <- lists:seq(0, ${N - 1})], ok`,
  );
  const beamPid = async () => (await rpc('rpc:call(N, os, getpid, [])')).replace(/"/g, '');
  const pid = await beamPid();
  return {
    name: 'ejabberd 23.01',
    port,
    memory: async () => Number(await rpc('rpc:call(N, erlang, memory, [total])')),
    rss: async () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    },
    cpu: async () => {
      // utime and stime, fields 14 and 15 of /proc/pid/stat, in clock ticks (100 Hz).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// the load driver (the same for both servers), in its own process
//
// The driver is @xmpp/client (connectClient: PLAIN, reconnect off), kept as lean as it allows,
// because on a 2-core machine its CPU competes with the server's and caps what a fast server can
// show: after the login, each client's middleware (the IQ caller/callee and XEP-0198 layers, which
// build two @xmpp/jid objects per received stanza) and the test helper's recording listeners are
// removed; each client's K chat messages are built once with @xmpp/client's xml() before the timed
// phase and written with its `write` in one call (the server receives the same stanzas; TCP
// coalesces small writes anyway); received stanzas are still parsed by @xmpp/client's parser and
// counted (name 'message', type 'chat', from the expected sender). Errors are created without a
// stack in the driver (`Error.stackTraceLimit = 0`: @xmpp/client arms a TimeoutError per awaited
// login step). Each server gets its own driver process(es), the same code started the same way and
// warmed up by the same untimed round, so that neither server's stanza shapes (ejabberd's richer
// stream features) leave the other's driver with polymorphic, slower code; used for every round of
// both servers, so the bench orchestration (ejabberdctl, erl RPCs) never shares its event loop.

interface DriverClient {
  readonly tc: TestClient;
  /** The raw @xmpp/client entity, an EventEmitter with `write(string)`. */
  readonly raw: {
    removeAllListeners(event: string): void;
    on(event: 'stanza', listener: (stanza: { name: string; attrs: Record<string, string> }) => void): void;
    write(data: string): Promise<void>;
  };
}

type DriverRequest =
  | { readonly type: 'login'; readonly port: number }
  | { readonly type: 'blast' }
  | { readonly type: 'logout' }
  | { readonly type: 'exit' };

type DriverReply =
  | { readonly type: 'logged-in'; readonly sec: number; readonly cpu: number }
  | { readonly type: 'delivered'; readonly sec: number; readonly received: number; readonly cpu: number }
  | { readonly type: 'logged-out' };

function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

function driverProcess(slot: number): void {
  Error.stackTraceLimit = 0;
  const mine: number[] = [];
  for (let i = slot; i < N; i += DRIVERS) mine.push(i);
  let clients: DriverClient[] = [];
  let payloads: string[] = [];
  const reply = (m: DriverReply) => process.send?.(m);
  const login = async (port: number) => {
    clients = new Array(mine.length);
    let next = 0;
    const cpu0 = cpuSeconds();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: Math.max(1, Math.round(CONCURRENCY / DRIVERS)) }, async () => {
        while (next < mine.length) {
          const j = next++;
          const i = mine[j]!;
          const tc = await connectClient({
            port,
            domain: DOMAIN,
            username: user(i),
            password: PASSWORD,
            resource: 'bench',
            timeoutMs: 30_000,
            mechanism: MECHANISM === 'PLAIN' ? 'PLAIN' : 'default',
          });
          const raw = tc.xmpp as unknown as DriverClient['raw'];
          for (const event of ['element', 'stanza', 'nonza', 'send']) raw.removeAllListeners(event);
          clients[j] = { tc, raw };
        }
      }),
    );
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    reply({ type: 'logged-in', sec, cpu: cpuSeconds() - cpu0 });
    // Untimed preparation of the message phase: each client's K stanzas, serialised once.
    payloads = mine.map((i) => {
      const to = `${user((i + 1) % N)}@${DOMAIN}/bench`;
      let out = '';
      for (let k = 0; k < K; k++)
        out += xml('message', { to, type: 'chat' }, xml('body', {}, `m${k}`)).toString();
      return out;
    });
  };
  const blast = async () => {
    const total = mine.length * K;
    let received = 0;
    let finish: () => void = () => {};
    const allIn = new Promise<void>((resolve) => {
      finish = resolve;
    });
    clients.forEach((c, j) => {
      const i = mine[j]!;
      const from = `${user((i + N - 1) % N)}@${DOMAIN}/bench`;
      c.raw.on('stanza', (s) => {
        if (s.name === 'message' && s.attrs.type === 'chat' && s.attrs.from === from && ++received === total)
          finish();
      });
    });
    const cpu0 = cpuSeconds();
    const t1 = process.hrtime.bigint();
    for (let j = 0; j < clients.length; j++) void clients[j]!.raw.write(payloads[j]!).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allIn, new Promise<void>((r) => (timer = setTimeout(r, 120_000)))]);
    clearTimeout(timer);
    const sec = Number(process.hrtime.bigint() - t1) / 1e9;
    reply({ type: 'delivered', sec, received, cpu: cpuSeconds() - cpu0 });
  };
  process.on('message', (m: DriverRequest) => {
    if (m.type === 'login') void login(m.port);
    else if (m.type === 'blast') void blast();
    else if (m.type === 'exit') process.exit(0);
    else if (m.type === 'logout') {
      void Promise.all(clients.map((c) => c.tc.stop())).then(() => {
        clients = [];
        payloads = [];
        reply({ type: 'logged-out' });
      });
    }
  });
  process.send?.({ type: 'ready' });
}

/** The driver processes, asked together; their answers are combined (times: max, counts and CPU: sum). */
interface Driver {
  login(port: number): Promise<{ sec: number; cpu: number }>;
  blast(): Promise<{ sec: number; cpu: number; received: number }>;
  logout(): Promise<void>;
  stop(): void;
}

async function startDrivers(): Promise<Driver> {
  const children = Array.from({ length: DRIVERS }, (_, slot) =>
    fork(fileURLToPath(import.meta.url), ['--driver', String(slot)], {
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
    login: async (port) => {
      const r = await ask({ type: 'login', port }, 'logged-in');
      return { sec: max(r), cpu: sum(r.map((x) => x.cpu)) };
    },
    blast: async () => {
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
  const others = (a: number[], b: number[]) =>
    b.reduce((sum, c, i) => (all[i] === server ? sum : sum + c - a[i]!), 0);
  const mine = (a: number[], b: number[]) => b[all.indexOf(server)]! - a[all.indexOf(server)]!;
  const s0 = await cpus();
  const login = await driver.login(server.port);
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
    `xmpp: otp-chat vs ejabberd, N=${N} users, K=${K} messages each, login concurrency ${CONCURRENCY}, ` +
      `${DRIVERS} driver process(es) per server, SASL ${MECHANISM}, passwords stored ${PASSWORD_FORMAT}, ` +
      `${process.env.WARMUP ?? 1} warm-up + ${rounds} interleaved rounds (median per metric)`,
  );
  const drivers: Driver[] = [];
  const servers: ServerHandle[] = [await startOtpChat()];
  try {
    if (process.env.EJABBERD !== '0') {
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
    const ej = rows[1];
    if (ej !== undefined) {
      ratio('logins-vs-ejabberd', o.loginsPerSec / ej.loginsPerSec);
      ratio('msgs-vs-ejabberd', o.msgsPerSec / ej.msgsPerSec);
      ratio('memory-vs-ejabberd', ej.bytesPerSession / o.bytesPerSession);
      ratio('rss-memory-vs-ejabberd', ej.rssPerSession / o.rssPerSession);
      figure('ejabberd-bytes-per-session', ej.bytesPerSession, 'B');
    }
    // Server CPU per operation (user + system of the server process over the phase, medians):
    // what each server costs, whatever the driver's share of the 2 cores.
    const perLogin = (r: Row) => (r.cpu.loginServer / N) * 1e6;
    const perMsg = (r: Row) => (r.cpu.msgServer / Math.max(1, r.delivered)) * 1e6;
    if (ej !== undefined) {
      ratio('cpu-per-login-vs-ejabberd', perLogin(ej) / perLogin(o));
      ratio('cpu-per-msg-vs-ejabberd', perMsg(ej) / perMsg(o));
      figure('ejabberd-cpu-us-per-login', perLogin(ej), 'us');
      figure('ejabberd-cpu-us-per-msg', perMsg(ej), 'us');
    }
    figure('otp-chat-cpu-us-per-login', perLogin(o), 'us');
    figure('otp-chat-cpu-us-per-msg', perMsg(o), 'us');
    figure('driver-cpu-us-per-login', (o.cpu.loginDriver / N) * 1e6, 'us');
    figure('driver-cpu-us-per-msg', (o.cpu.msgDriver / Math.max(1, o.delivered)) * 1e6, 'us');
    figure('otp-chat-logins-per-sec', o.loginsPerSec, 'logins/s');
    figure('otp-chat-msgs-per-sec', o.msgsPerSec, 'msgs/s');
    figure('otp-chat-bytes-per-session', o.bytesPerSession, 'B');
    figure('otp-chat-rss-bytes-per-session', o.rssPerSession, 'B');
  } finally {
    for (const d of drivers) d.stop();
    for (const s of servers) await s.stop();
  }
}

// Dispatch last, so that every constant above is initialised.
if (process.argv[2] === '--driver') {
  driverProcess(Number(process.argv[3]));
} else if (process.argv[2] === '--otp-chat-server') {
  const system = new ActorSystem({ logger: silentLogger });
  const users = new MemoryUserStore({ passwordFormat: PASSWORD_FORMAT });
  const n = Number(process.argv[3]);
  for (let i = 0; i < n; i++) users.register(user(i), DOMAIN, PASSWORD);
  const server = await XmppServer.start({
    system,
    hosts: [DOMAIN],
    port: 0,
    users,
    logger: silentLogger,
    modules: [modPing(), modOffline()],
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'memory') {
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      const c = process.cpuUsage();
      process.send?.({
        type: 'memory',
        vm: m.heapUsed + m.external,
        rss: m.rss,
        cpu: (c.user + c.system) / 1e6,
      });
    } else if (msg.type === 'cpu') {
      const c = process.cpuUsage();
      process.send?.({ type: 'cpu', cpu: (c.user + c.system) / 1e6 });
    } else if (msg.type === 'stop') {
      void server.stop().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', port: server.address.port });
} else {
  await main();
}
