// bench/start: the chat server (examples/chat-server) as `pnpm start` runs it, from the build with
// plain node, against the same server run through tsx from the sources (the workspace's dev path,
// and what `pnpm start` ran before the packages were built), same config; then its memory per
// session at 10k sessions, from the build.
//
//   pnpm bench:start                       # builds first, then ROUNDS=5 starts of each, N=10000
//   ROUNDS=9 N=2000 pnpm bench:start
//
// start-ms: from spawn to the "listening on" line on stdout. start-rss: the server process's
// VmRSS (/proc) once it listens and has been idle SETTLE_MS, before any login. Both are the median
// of ROUNDS starts, build and tsx alternating. "Through tsx" is one process,
// `node --import tsx --conditions=@otp-chat/source src/main.ts` (the `tsx` CLI adds a parent process).
// rss-per-session: the build's server with N users (`--config`), a lean raw-socket driver in its own
// process (stream, SASL PLAIN, bind: the session opens at bind) logs each in once, CONCURRENCY in
// flight; (RSS after - RSS before) / N, both read after SETTLE_MS idle. Each process stays under the
// 20,000 open files limit (N sockets each). Every child is killed on the way out.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, header, ratio } from './lib.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 200);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1000);
/** Bound on any one phase (a start, the logins, a stop). */
const PHASE_TIMEOUT_MS = 120_000;
const DOMAIN = 'localhost';
const PASSWORD = 'secret';

const BUILD = {
  name: 'build (node dist/main.js)',
  args: [join(ROOT, 'examples/chat-server/dist/main.js')],
};
const TSX = {
  name: 'tsx (sources)',
  args: ['--import', 'tsx', '--conditions=@otp-chat/source', join(ROOT, 'examples/chat-server/src/main.ts')],
};

const children = new Set<ChildProcess>();
function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(what: string, p: Promise<T>, ms = PHASE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface Server {
  readonly proc: ChildProcess;
  readonly port: number;
  /** Milliseconds from spawn to the "listening on" line. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Starts the chat server with `args` (plus --port 0 and `extra`) and waits for its listening line. */
async function startServer(args: readonly string[], extra: readonly string[] = []): Promise<Server> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, [...args, '--port', '0', ...extra], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const { port, startMs } = await withTimeout(
    'server start',
    new Promise<{ port: number; startMs: number }>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on [^:\s]+:(\d+)/.exec(out);
        if (m) resolve({ port: Number(m[1]), startMs: Number(process.hrtime.bigint() - t0) / 1e6 });
      });
      void exited.then(() => reject(new Error(`server exited before listening:\n${out}\n${err}`)));
    }),
  );
  return {
    proc,
    port,
    startMs,
    stop: async () => {
      proc.kill('SIGINT');
      await withTimeout('server stop', exited, 30_000).catch(() => proc.kill('SIGKILL'));
      children.delete(proc);
    },
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------------------------------------
// The driver: N raw sockets, each one stream, SASL PLAIN and bind; nothing else kept per socket.

const STREAM_OPEN = `<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
const BIND = `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`;
const auth = (user: string) =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${PASSWORD}`).toString('base64')}</auth>`;

/** One login; resolves once bind answered `result`, and keeps the socket open. */
function login(port: number, user: string, sockets: Array<{ destroy(): void }>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.setNoDelay(true);
    let stage = 0;
    let buf = '';
    const fail = (why: string) => {
      stage = 9;
      socket.destroy();
      reject(new Error(`${user}: ${why}`));
    };
    socket.on('error', (e) => fail(e.message));
    socket.on('close', () => {
      if (stage < 4) fail('closed during login');
    });
    socket.on('connect', () => socket.write(STREAM_OPEN));
    socket.on('data', (chunk: Buffer) => {
      if (stage >= 4) return; // logged in: read and drop (presence, pings: none expected)
      buf += chunk.toString();
      if (stage === 0 && buf.includes('</stream:features>')) {
        buf = '';
        stage = 1;
        socket.write(auth(user));
      } else if (stage === 1 && buf.includes('<success')) {
        buf = '';
        stage = 2;
        socket.write(STREAM_OPEN);
      } else if (stage === 1 && buf.includes('<failure')) {
        fail(`SASL failure ${buf}`);
      } else if (stage === 2 && buf.includes('</stream:features>')) {
        buf = '';
        stage = 3;
        socket.write(BIND);
      } else if (stage === 3 && buf.includes('</iq>')) {
        if (!/type=['"]result['"]/.test(buf)) return fail(`bind failed ${buf}`);
        buf = '';
        stage = 4;
        resolve();
      }
    });
  });
}

function driverProcess(): void {
  const sockets: Array<{ destroy(): void }> = [];
  process.on('message', (m: { type: 'login'; port: number; n: number } | { type: 'exit' }) => {
    if (m.type === 'exit') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
    const t0 = process.hrtime.bigint();
    let next = 0;
    void Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, m.n) }, async () => {
        while (next < m.n) await login(m.port, `u${next++}`, sockets);
      }),
    ).then(
      () => process.send?.({ type: 'done', sec: Number(process.hrtime.bigint() - t0) / 1e9 }),
      (e: Error) => process.send?.({ type: 'error', message: e.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

async function rssPerSession(): Promise<{ before: number; after: number; loginSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'otp-chat-bench-start-'));
  try {
    const config = join(dir, 'users.json');
    writeFileSync(
      config,
      JSON.stringify({ users: Array.from({ length: N }, (_, i) => ({ user: `u${i}`, password: PASSWORD })) }),
    );
    const server = await startServer(BUILD.args, ['--config', config]);
    const driver = fork(fileURLToPath(import.meta.url), ['--driver'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(driver);
    const next = () =>
      withTimeout(
        'driver',
        new Promise<{ type: string; sec?: number; message?: string }>((resolve) =>
          driver.once('message', resolve),
        ),
      );
    try {
      await next(); // ready
      await sleep(SETTLE_MS);
      const before = rssOf(server.proc.pid!);
      driver.send({ type: 'login', port: server.port, n: N });
      const done = await next();
      if (done.type !== 'done') throw new Error(`driver: ${done.message}`);
      await sleep(SETTLE_MS);
      const after = rssOf(server.proc.pid!);
      return { before, after, loginSec: done.sec! };
    } finally {
      driver.send({ type: 'exit' });
      await withTimeout('driver exit', new Promise((r) => driver.once('exit', r)), 10_000).catch(() =>
        driver.kill('SIGKILL'),
      );
      children.delete(driver);
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  header(
    `bench/start: the chat server from the build vs through tsx (${ROUNDS} starts each), then ${N} sessions`,
  );
  const samples = new Map<string, { ms: number[]; rss: number[] }>([
    [BUILD.name, { ms: [], rss: [] }],
    [TSX.name, { ms: [], rss: [] }],
  ]);
  // One untimed start of each first (disk cache, tsx's transform cache as a developer has it).
  for (const mode of [BUILD, TSX]) await (await startServer(mode.args)).stop();
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? [BUILD, TSX] : [TSX, BUILD]) {
      const server = await startServer(mode.args);
      await sleep(SETTLE_MS);
      const rss = rssOf(server.proc.pid!);
      await server.stop();
      const s = samples.get(mode.name)!;
      s.ms.push(server.startMs);
      s.rss.push(rss);
    }
  }
  const row = (name: string) => {
    const s = samples.get(name)!;
    return { ms: median(s.ms), rss: median(s.rss) };
  };
  const build = row(BUILD.name);
  const tsx = row(TSX.name);
  process.stdout.write(`${'server'.padEnd(28)}  ${'start ms'.padStart(9)}  ${'RSS MB'.padStart(7)}\n`);
  for (const [name, r] of [
    [BUILD.name, build],
    [TSX.name, tsx],
  ] as const) {
    process.stdout.write(
      `${name.padEnd(28)}  ${r.ms.toFixed(0).padStart(9)}  ${(r.rss / 2 ** 20).toFixed(1).padStart(7)}\n`,
    );
  }

  const sessions = await rssPerSession();
  const perSession = (sessions.after - sessions.before) / N;
  process.stdout.write(
    `\n${N} sessions from the build: RSS ${(sessions.before / 2 ** 20).toFixed(1)} MB -> ${(sessions.after / 2 ** 20).toFixed(1)} MB, ` +
      `${perSession.toFixed(0)} B/session; logins took ${sessions.loginSec.toFixed(1)} s (${(N / sessions.loginSec).toFixed(0)}/s)\n\n`,
  );

  figure('start-ms', build.ms, 'ms');
  figure('start-rss', build.rss / 2 ** 20, 'MB');
  figure('start-ms-tsx', tsx.ms, 'ms');
  figure('start-rss-tsx', tsx.rss / 2 ** 20, 'MB');
  ratio('start-ms', tsx.ms / build.ms);
  ratio('start-rss', tsx.rss / build.rss);
  figure('rss-per-session', perSession, 'B');
}

if (process.argv.includes('--driver')) driverProcess();
else
  await main().then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
