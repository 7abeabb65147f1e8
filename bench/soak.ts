// bench/soak: the otp-chat XMPP server (its own process) under a flood it cannot fully deliver.
// SESSIONS sessions log in; the first NON_READING stop reading; the others each send RATE chat
// messages per second of BODY bytes (a SHARE of them to the non-reading sessions) for SECONDS.
// Then the non-reading sessions read again and every message sent is accounted for: delivered,
// stored offline (asked to the server), or bounced to its sender. The server's RSS is sampled every
// 250 ms and compared with a bound computed from its limits. Exits 1 when a message is missing or
// the RSS passes the bound.
//
//   npx tsx bench/soak.ts                       # 200 sessions, 10 not reading, 30 s
//   SECONDS=5 SESSIONS=50 NON_READING=3 npx tsx bench/soak.ts
//   RATE=20 BODY=1024 SHARE=0.5 OFFLINE_MAX=1000 (defaults: 12 msg/s, 2048 bytes, 0.5, 1000)
//
// The in-suite version (packages/xmpp/test/soak.test.ts) runs the same driver, short, in-process.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { DEFAULTS, MemoryUserStore, modOffline, modPing, XmppServer } from '@otp-chat/xmpp';
import { runSoak } from '@otp-chat/xmpp/testing';
import { figure, header, ratio } from './lib.ts';

const SESSIONS = Number(process.env.SESSIONS ?? 200);
const NON_READING = Number(process.env.NON_READING ?? 10);
const SECONDS = Number(process.env.SECONDS ?? 30);
const RATE = Number(process.env.RATE ?? 12);
const BODY = Number(process.env.BODY ?? 2048);
const SHARE = Number(process.env.SHARE ?? 0.5);
const OFFLINE_MAX = Number(process.env.OFFLINE_MAX ?? 1000);
const PASSWORD = 'secret';
const DOMAIN = 'localhost';
const MB = 1024 * 1024;
const user = (i: number) => `u${i}`;

interface Sample {
  readonly rss: number;
  readonly heap: number;
}

async function main(): Promise<void> {
  header(
    `bench/soak: ${SESSIONS} sessions, ${NON_READING} not reading, ${SECONDS} s, ${RATE} msg/s per sender of ${BODY} B, ${SHARE} to the non-reading`,
  );
  const child = fork(fileURLToPath(import.meta.url), ['--soak-server'], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const samples: Sample[] = [];
  let latest: Sample = { rss: 0, heap: 0 };
  const offlineWaiters: Array<(ids: string[]) => void> = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { type: string; port?: number; rss?: number; heap?: number; ids?: string[] }) => {
      if (m.type === 'ready') resolve(m.port!);
      else if (m.type === 'sample') {
        latest = { rss: m.rss!, heap: m.heap! };
        samples.push(latest);
      } else if (m.type === 'offline') offlineWaiters.shift()?.(m.ids!);
    });
  });
  const idle = latest;
  let afterLogin: Sample | undefined;
  const report = await runSoak({
    port,
    users: Array.from({ length: SESSIONS }, (_, i) => user(i)),
    password: () => PASSWORD,
    nonReading: NON_READING,
    durationMs: SECONDS * 1000,
    maxMessages: Number.MAX_SAFE_INTEGER,
    ratePerSender: RATE,
    bodyBytes: BODY,
    toNonReading: SHARE,
    settleTimeoutMs: 60_000,
    offlineIds: () =>
      new Promise<string[]>((resolve) => {
        offlineWaiters.push(resolve);
        child.send({ type: 'offline' });
      }),
    onTick: () => {
      afterLogin ??= latest;
    },
  });
  const final = latest;
  child.send({ type: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));

  // The bound, from the server's limits: per non-reading connection its send queue, the output of
  // one tick and the socket's own buffer (strings and their buffers: twice); per connection the
  // unparsed input it may hold; the offline store at its cap (twice the message: the stored
  // element and its strings); plus 64 MiB for the garbage collector's young generation and growth.
  const base = afterLogin ?? idle;
  const perQuiet = 2 * (DEFAULTS.maxSendQueueBytes + 2 * 64 * 1024);
  const offlineBytes = NON_READING * OFFLINE_MAX * 2 * (BODY + 512);
  const bound =
    base.rss + NON_READING * perQuiet + SESSIONS * DEFAULTS.maxPendingInputBytes + offlineBytes + 64 * MB;
  const maxRss = Math.max(...samples.map((s) => s.rss));
  const maxHeap = Math.max(...samples.map((s) => s.heap));
  const rate = report.sent / (report.floodMs / 1000);

  console.log(
    `sessions ${report.sessions} (${report.nonReading} not reading), flood ${(report.floodMs / 1000).toFixed(1)} s`,
  );
  console.log(`sent ${report.sent} (${rate.toFixed(0)} msg/s)`);
  console.log(
    `  delivered ${report.delivered}, stored offline ${report.offline}, bounced ${report.bounced} ${JSON.stringify(report.bounceConditions)}`,
  );
  console.log(`  duplicates ${report.duplicates}, missing ${report.missing} ${report.missingIds.join(' ')}`);
  console.log(
    `  non-reading sessions closed by the server: ${report.closedNonReading}/${report.nonReading}, reading sessions closed: ${report.closedReading}`,
  );
  console.log(
    `RSS: idle ${(idle.rss / MB).toFixed(1)} MB, after logins ${(base.rss / MB).toFixed(1)} MB, max ${(maxRss / MB).toFixed(1)} MB, end ${(final.rss / MB).toFixed(1)} MB; bound ${(bound / MB).toFixed(1)} MB (heap max ${(maxHeap / MB).toFixed(1)} MB)`,
  );
  figure('soak-messages-sent', report.sent, 'messages');
  figure('soak-messages-per-second', rate, 'msg/s');
  figure('soak-delivered', report.delivered, 'messages');
  figure('soak-stored-offline', report.offline, 'messages');
  figure('soak-bounced', report.bounced, 'messages');
  figure('soak-duplicates', report.duplicates, 'messages');
  figure('soak-missing', report.missing, 'messages');
  figure('soak-non-reading-closed', report.closedNonReading, 'sessions');
  figure('soak-reading-closed', report.closedReading, 'sessions');
  figure('soak-rss-after-login', base.rss / MB, 'MB');
  figure('soak-rss-max', maxRss / MB, 'MB');
  figure('soak-rss-bound', bound / MB, 'MB');
  ratio('soak-rss-bound-over-max', bound / maxRss);
  const ok = report.missing === 0 && maxRss <= bound && report.closedReading === 0;
  console.log(ok ? 'PASS' : 'FAIL');
  process.exitCode = ok ? 0 : 1;
}

async function serverProcess(): Promise<void> {
  const users = new MemoryUserStore();
  for (let i = 0; i < SESSIONS; i++) users.register(user(i), DOMAIN, PASSWORD);
  const offline = modOffline({ maxMessages: OFFLINE_MAX });
  const server = await XmppServer.start({
    system: new ActorSystem({ logger: silentLogger }),
    hosts: [DOMAIN],
    port: 0,
    users,
    logger: silentLogger,
    modules: [modPing(), offline],
    // The soak's sessions log in with PLAIN over plain TCP (loopback).
    allowPlainWithoutTls: true,
  });
  const sample = () => {
    const m = process.memoryUsage();
    process.send?.({ type: 'sample', rss: m.rss, heap: m.heapUsed + m.external });
  };
  const timer = setInterval(sample, 250);
  sample();
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'offline') {
      const ids: string[] = [];
      for (let i = 0; i < SESSIONS; i++) {
        for (const m of offline.store.peek(user(i), DOMAIN) as { attrs: Record<string, unknown> }[])
          ids.push(String(m.attrs.id));
      }
      process.send?.({ type: 'offline', ids });
    } else if (msg.type === 'stop') {
      clearInterval(timer);
      void server.stop().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', port: server.address.port });
}

if (process.argv[2] === '--soak-server') await serverProcess();
else await main();
