// Benchmark of @otp-chat/admin. Run: pnpm bench:admin
//
// api-call-latency-p99: `POST /api/connected_users_number` over HTTP (keep-alive, loopback) with
// 1 k sessions open, p99 of 2 000 sequential calls; the baseline in the same run is `GET /healthz`
// on the same listener (fastify and the socket with no command behind it).
//
// route-with-metrics: the session manager's routing (100 sessions, 100 k messages) with the
// metrics' hook handlers attached, over the same without them, interleaved in the same run.
//
// scrape-pause-ms: the longest stall of routing while /metrics is scraped with 100 k sessions.
// 100 k sockets do not fit the machine's 20 000 open files, so the sessions are held through the
// session manager API directly (`openSession` with a connection actor each, no socket), as the
// session-manager benchmark does. A probe routes a message to a session on every turn of the event
// loop and records the longest gap between two turns; the baseline is the same probe without
// scrapes. Every loop is bounded in count and time.
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { AdminMetrics, AdminServer, AdminTokens } from '@otp-chat/admin';
import { EventBus, Hooks } from '@otp-chat/event-bus';
import { SessionManager, xml } from '@otp-chat/session-manager';
import { XmppServer } from '@otp-chat/xmpp';
import { figure, header, ratio } from './lib.ts';

const HOST = 'localhost';
const TOKEN = 'bench-admin-token-0123456789';
const RUNS = 3;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Node {
  readonly system: ActorSystem;
  readonly xmpp: XmppServer;
  readonly admin: AdminServer;
  readonly metrics: AdminMetrics;
  stop(): Promise<void>;
}

/** Messages the connection actors received (the probe's routing reached them). */
let delivered = 0;

async function startNode(): Promise<Node> {
  const system = new ActorSystem({ node: 'bench@admin', logger: silentLogger });
  const events = new EventBus();
  const hooks = new Hooks({ events, logger: silentLogger });
  const xmpp = await XmppServer.start({ system, port: 0, hosts: [HOST], hooks, logger: silentLogger });
  const metrics = new AdminMetrics({ system, hooks, events: [events, xmpp.sm.events], hosts: xmpp.hosts });
  const tokens = new AdminTokens().add(TOKEN, { kind: 'local' });
  const admin = await AdminServer.start({ commands: xmpp.commands, tokens, port: 0, metrics });
  return {
    system,
    xmpp,
    admin,
    metrics,
    async stop() {
      await admin.stop();
      metrics.stop();
      await xmpp.stop();
    },
  };
}

/** Opens `n` sessions `u<i>@localhost/r`, each with a connection actor and no socket. */
async function openSessions(node: Node, n: number, from: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ref = await node.system.spawn<null, void, never, unknown, never, unknown>(
      {
        init: () => ({ ok: null }),
        handleInfo: (_m, state) => {
          delivered++;
          return { noreply: true, state };
        },
      },
      undefined,
    );
    await node.xmpp.sm.openSession(node.xmpp.sm.makeSid(ref), `u${from + i}`, HOST, 'r');
  }
}

/** `calls` sequential requests; their latencies in µs, sorted. */
async function latencies(calls: number, request: () => Promise<Response>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    const res = await request();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    out.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return out.sort((a, b) => a - b);
}

/** The longest gap (ms) between two turns of a routing probe during `windowMs`, while `load` runs. */
async function longestGap(
  node: Node,
  users: number,
  windowMs: number,
  load: () => Promise<void>,
): Promise<number> {
  let longest = 0;
  let running = true;
  const probe = new Promise<void>((resolve) => {
    let last = performance.now();
    let i = 0;
    const turn = () => {
      const now = performance.now();
      if (now - last > longest) longest = now - last;
      last = now;
      node.xmpp.sm.route(
        xml(
          'message',
          { from: `u0@${HOST}/r`, to: `u${i++ % users}@${HOST}/r`, type: 'chat' },
          xml('body', {}, 'x'),
        ),
      );
      if (running) setImmediate(turn);
      else resolve();
    };
    setImmediate(turn);
  });
  const end = performance.now() + windowMs;
  while (performance.now() < end) await load();
  running = false;
  await probe;
  return longest;
}

/** ns per `sm.route` of a chat message to one of 100 sessions, median of 7 rounds of 100 k. */
async function routeNs(withMetrics: boolean): Promise<number> {
  const system = new ActorSystem({ node: 'bench@route', logger: silentLogger });
  const hooks = new Hooks({ logger: silentLogger });
  const sm = await SessionManager.start({ system, hosts: [HOST], hooks, logger: silentLogger });
  const metrics = withMetrics
    ? new AdminMetrics({ system, hooks, events: [sm.events], hosts: sm.hosts, defaultMetrics: false })
    : undefined;
  for (let i = 0; i < 100; i++) {
    const ref = await system.spawn<null, void, never, unknown, never, unknown>(
      {
        init: () => ({ ok: null }),
        handleInfo: (_m, state) => {
          delivered++;
          return { noreply: true, state };
        },
      },
      undefined,
    );
    await sm.openSession(sm.makeSid(ref), `u${i}`, HOST, 'r');
  }
  const messages = Array.from({ length: 100 }, (_, i) =>
    xml('message', { from: `u0@${HOST}/r`, to: `u${i}@${HOST}/r`, type: 'chat' }, xml('body', {}, 'x')),
  );
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) sm.route(messages[i % 100]!);
    rounds.push(Number(process.hrtime.bigint() - start) / 100_000);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the mailboxes drain, untimed
  }
  metrics?.stop();
  await sm.stop();
  return median(rounds);
}

async function main(): Promise<void> {
  header('admin: HTTP API call latency (1 k sessions) and /metrics scrape pause (100 k sessions)');
  const node = await startNode();
  const url = node.admin.url;
  const post = () =>
    fetch(`${url}/api/connected_users_number`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
  const healthz = () => fetch(`${url}/healthz`);

  await openSessions(node, 1000, 0);
  if ((await (await post()).json()) !== 1000) throw new Error('expected 1 000 sessions');
  const api: number[] = [];
  const base: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await latencies(200, post); // warm-up
    const a = await latencies(2000, post);
    const b = await latencies(2000, healthz);
    api.push(percentile(a, 99));
    base.push(percentile(b, 99));
    console.log(
      `run ${run + 1}: connected_users_number p50 ${percentile(a, 50).toFixed(0)} µs p99 ${percentile(a, 99).toFixed(0)} µs; ` +
        `healthz p50 ${percentile(b, 50).toFixed(0)} µs p99 ${percentile(b, 99).toFixed(0)} µs`,
    );
  }
  figure('api-call-latency-p99', median(api), 'us');
  figure('healthz-latency-p99', median(base), 'us');
  ratio('api-call-vs-healthz-p99', median(api) / median(base));

  const bare: number[] = [];
  const metered: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    bare.push(await routeNs(false));
    metered.push(await routeNs(true));
    console.log(
      `run ${run + 1}: sm.route ${bare.at(-1)!.toFixed(0)} ns bare, ${metered.at(-1)!.toFixed(0)} ns with metrics`,
    );
  }
  figure('route-ns-bare', median(bare), 'ns');
  figure('route-ns-with-metrics', median(metered), 'ns');
  ratio('route-with-metrics', median(metered) / median(bare));

  const TOTAL = 100_000;
  const t0 = performance.now();
  await openSessions(node, TOTAL - 1000, 1000);
  console.log(`opened ${TOTAL} sessions (no sockets) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const metricsText = await (await fetch(`${url}/metrics`)).text();
  const gauge = /otp_chat_sessions\{host="localhost",node="bench@admin"\} (\d+)/.exec(metricsText)?.[1];
  if (Number(gauge) !== TOTAL) throw new Error(`otp_chat_sessions says ${gauge}`);
  const scrape: number[] = [];
  const idle: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const idleGap = await longestGap(node, TOTAL, 1000, () => new Promise((r) => setTimeout(r, 50)));
    let scrapes = 0;
    let scrapeMs = 0;
    const scrapeGap = await longestGap(node, TOTAL, 1000, async () => {
      const s = performance.now();
      await (await fetch(`${url}/metrics`)).text();
      scrapeMs += performance.now() - s;
      scrapes++;
    });
    idle.push(idleGap);
    scrape.push(scrapeGap);
    console.log(
      `run ${run + 1}: longest routing gap while scraping ${scrapeGap.toFixed(2)} ms (${scrapes} scrapes, ` +
        `${(scrapeMs / scrapes).toFixed(1)} ms each), idle ${idleGap.toFixed(2)} ms`,
    );
  }
  console.log(`messages routed by the probe: ${delivered}`);
  // The scrape alone, in process (no HTTP): what a scrape can hold the event loop for at most.
  const alone: number[] = [];
  for (let i = 0; i < 21; i++) {
    const s = performance.now();
    await node.metrics.metrics();
    alone.push(performance.now() - s);
  }
  console.log(`registry.metrics() with ${TOTAL} sessions: median ${median(alone).toFixed(2)} ms`);
  figure('scrape-pause-ms', median(scrape), 'ms');
  figure('route-gap-idle-ms', median(idle), 'ms');
  await node.stop();
}

await main();
