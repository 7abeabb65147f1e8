// bench/xmpp's presence round (pnpm bench:xmpp runs it after the message rounds; alone:
// `npx tsx bench/xmpp/presence.ts`): N users, each with CONTACTS contacts subscribed both ways
// (rosters written into each server's store before the round: otp-chat's module store, ejabberd's
// `roster` mnesia table with `mod_roster` on), log in (untimed), then every user sends its initial
// presence at once: each server broadcasts it to the user's subscribers and probes the user's
// contacts (RFC 6121 §4.2), and the round ends when every user has seen an available presence
// from each of its contacts. Measured: presence stanzas delivered to the clients per second, and
// the time until every user knows every contact's presence. Same driver (@xmpp/client in its own
// process), WARMUP untimed + ROUNDS interleaved rounds per server, medians.
//
//   RATIO presence-vs-ejabberd   presence stanzas delivered per second, otp-chat / ejabberd
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import { figure, header, ratio } from '../lib.ts';
import { startEjabberd } from './ejabberd.ts';
import { CONCURRENCY, CONTACTS, contactsOf, DOMAIN, N, PASSWORD, type ServerHandle, user } from './shared.ts';

const SELF = fileURLToPath(import.meta.url);
const TIMEOUT_MS = 120_000;

type Request = { type: 'login'; port: number } | { type: 'presence' } | { type: 'logout' };
type Reply =
  | { type: 'ready' }
  | { type: 'logged-in' }
  | { type: 'presence'; sec: number; stanzas: number; complete: number }
  | { type: 'logged-out' };

// ---------------------------------------------------------------------------------------------
// the driver process

interface Raw {
  removeAllListeners(event: string): void;
  on(event: 'stanza', listener: (s: { name: string; attrs: Record<string, string> }) => void): void;
  write(data: string): Promise<void>;
}

function driver(): void {
  Error.stackTraceLimit = 0;
  let clients: { tc: TestClient; raw: Raw }[] = [];
  const send = (r: Reply) => process.send?.(r);
  process.on('message', async (m: Request) => {
    if (m.type === 'login') {
      clients = new Array(N);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < N) {
            const i = next++;
            const tc = await connectClient({
              port: m.port,
              domain: DOMAIN,
              username: user(i),
              password: PASSWORD,
              resource: 'bench',
              timeoutMs: 30_000,
            });
            const raw = tc.xmpp as unknown as Raw;
            for (const event of ['element', 'stanza', 'nonza', 'send']) raw.removeAllListeners(event);
            clients[i] = { tc, raw };
          }
        }),
      );
      send({ type: 'logged-in' });
    } else if (m.type === 'presence') {
      let stanzas = 0;
      let complete = 0;
      let done: () => void = () => {};
      const all = new Promise<void>((r) => {
        done = r;
      });
      clients.forEach((c, i) => {
        const want = new Set(contactsOf(i, N).map((j) => `${user(j)}@${DOMAIN}/bench`));
        c.raw.on('stanza', (s) => {
          if (s.name !== 'presence') return;
          stanzas++;
          if (
            s.attrs.type === undefined &&
            want.delete(s.attrs.from!) &&
            want.size === 0 &&
            ++complete === N
          ) {
            done();
          }
        });
      });
      const t0 = process.hrtime.bigint();
      for (const c of clients) void c.raw.write('<presence/>').catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, TIMEOUT_MS)))]);
      clearTimeout(timer);
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      // Stragglers (duplicates, unavailable of nobody) are not waited for: counted up to here.
      send({ type: 'presence', sec, stanzas, complete });
    } else if (m.type === 'logout') {
      await Promise.all(clients.map((c) => c.tc.stop().catch(() => {})));
      clients = [];
      send({ type: 'logged-out' });
    }
  });
  send({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// the orchestrator

function startDriver() {
  const child = fork(SELF, ['driver'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends Reply['type']>(type: T) =>
    new Promise<Extract<Reply, { type: T }>>((resolve) => {
      const on = (r: Reply) => {
        if (r.type !== type) return;
        child.off('message', on);
        resolve(r as Extract<Reply, { type: T }>);
      };
      child.on('message', on);
    });
  const ready = next('ready');
  const ask = <T extends Reply['type']>(req: Request, type: T) => {
    const r = next(type);
    child.send(req);
    return r;
  };
  return { ready, ask, stop: () => child.kill() };
}

function startOtpChat(): Promise<ServerHandle> {
  const child = fork(fileURLToPath(new URL('./otpChatServer.ts', import.meta.url)), [String(N), 'presence'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const cpu = () =>
    new Promise<number>((done) => {
      const on = (m: { type: string; cpu: number }) => {
        if (m.type !== 'cpu') return;
        child.off('message', on);
        done(m.cpu);
      };
      child.on('message', on);
      child.send({ type: 'cpu' });
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type !== 'ready') return;
      resolve({
        name: 'otp-chat',
        port: m.port!,
        transport: 'xmpp',
        memory: async () => 0,
        rss: async () => 0,
        cpu,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.send({ type: 'stop' });
          }),
      });
    });
  });
}

/** ejabberd's rosters, written straight into its `roster` table (`mod_roster_mnesia`'s record). */
const EJABBERD_ROSTERS = `
  S = <<"${DOMAIN}">>, U = fun(I) -> list_to_binary("u" ++ integer_to_list(I)) end,
  Items = [{roster, {U(I), S, {U(C), S, <<>>}}, {U(I), S}, {U(C), S, <<>>}, <<>>, both, none, [], <<>>, []}
           || I <- lists:seq(0, ${N - 1}), D <- lists:seq(1, ${CONTACTS / 2}),
              C <- [(I + D) rem ${N}, (I - D + ${N}) rem ${N}]],
  rpc:call(N, lists, foreach, [fun(R) -> mnesia:dirty_write(roster, R) end, Items])`;

interface Round {
  readonly stanzasPerSec: number;
  readonly sec: number;
  readonly stanzas: number;
  readonly complete: number;
  readonly serverCpu: number;
}

async function round(server: ServerHandle, d: ReturnType<typeof startDriver>): Promise<Round> {
  await d.ask({ type: 'login', port: server.port }, 'logged-in');
  const cpu0 = await server.cpu();
  const r = await d.ask({ type: 'presence' }, 'presence');
  const serverCpu = (await server.cpu()) - cpu0;
  await d.ask({ type: 'logout' }, 'logged-out');
  return {
    stanzasPerSec: r.stanzas / r.sec,
    sec: r.sec,
    stanzas: r.stanzas,
    complete: r.complete,
    serverCpu,
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 3);
  const warmup = Number(process.env.WARMUP ?? 1);
  header(
    `xmpp presence: otp-chat vs ejabberd (mod_roster on mnesia), N=${N} users, ${CONTACTS} contacts each, ` +
      `${warmup} warm-up + ${rounds} interleaved rounds (median)`,
  );
  const servers: ServerHandle[] = [await startOtpChat()];
  const drivers: ReturnType<typeof startDriver>[] = [];
  try {
    if (process.env.EJABBERD !== '0') {
      const started = await startEjabberd({ modules: '  mod_roster: {}\n', setup: EJABBERD_ROSTERS });
      if (typeof started === 'string') process.stdout.write(`# ejabberd skipped: ${started}\n`);
      else servers.push(started);
    }
    for (const _ of servers) {
      const d = startDriver();
      await d.ready;
      drivers.push(d);
    }
    const results: Round[][] = servers.map(() => []);
    for (let r = 0; r < warmup + rounds; r++) {
      for (let i = 0; i < servers.length; i++) {
        const one = await round(servers[i]!, drivers[i]!);
        if (r >= warmup) results[i]!.push(one);
        process.stdout.write(
          `${r < warmup ? 'warm-up' : `round ${r - warmup + 1}`} ${servers[i]!.name.padEnd(16)}` +
            `${one.stanzasPerSec.toFixed(0).padStart(10)} presences/s ${one.stanzas.toString().padStart(8)} stanzas ` +
            `${one.sec.toFixed(2).padStart(7)} s  ${one.complete}/${N} users saw all contacts, server CPU ${one.serverCpu.toFixed(2)} s\n`,
        );
        await sleep(1000); // the logouts' unavailable broadcasts settle before the next round
      }
    }
    const med = results.map((rs) => ({
      perSec: median(rs.map((x) => x.stanzasPerSec)),
      sec: median(rs.map((x) => x.sec)),
      stanzas: median(rs.map((x) => x.stanzas)),
      cpuUs: median(rs.map((x) => (x.serverCpu / x.stanzas) * 1e6)),
      complete: Math.min(...rs.map((x) => x.complete)),
    }));
    const o = med[0]!;
    const ej = med[1];
    if (ej !== undefined) {
      ratio('presence-vs-ejabberd', o.perSec / ej.perSec);
      ratio('presence-complete-time-vs-ejabberd', ej.sec / o.sec);
      figure('ejabberd-presences-per-sec', ej.perSec, 'stanzas/s');
      figure('ejabberd-presence-stanzas', ej.stanzas, 'stanzas');
      figure('ejabberd-cpu-us-per-presence', ej.cpuUs, 'us');
    }
    figure('otp-chat-presences-per-sec', o.perSec, 'stanzas/s');
    figure('otp-chat-presence-stanzas', o.stanzas, 'stanzas');
    figure('otp-chat-cpu-us-per-presence', o.cpuUs, 'us');
    if (o.complete < N || (ej !== undefined && ej.complete < N)) {
      process.stdout.write(`# WARNING: not every user saw all its contacts within ${TIMEOUT_MS / 1000} s\n`);
    }
  } finally {
    for (const d of drivers) d.stop();
    for (const s of servers) await s.stop();
  }
}

if (process.argv[2] === 'driver') driver();
else await main();
