// bench/cluster: @otp-chat/cluster against its baselines, in one run, on a private redis-server.
//
//   npx tsx bench/cluster.ts
//   CASTS=20000 ROUNDS=5 USERS=200 K=20 SESSIONS=10000 npx tsx bench/cluster.ts
//
// 1. remote-cast: this process casts CASTS messages to an actor of a node in a child process; the
//    round ends when the actor counted them all. Baseline, same payloads, same two processes: bare
//    ioredis, one XADD per payload (fired together: ioredis writes one tick's commands at once),
//    the child reading with blocking XREAD COUNT 1000 on its own connection and JSON.parse'ing each
//    entry. Interleaved rounds; RATIO is the median of the per-round ratios (project / baseline).
// 2. xmpp-cross-node: two examples/chat-server nodes (processes) on the Redis backend and the
//    cluster; a driver process keeps two groups of USERS @xmpp/client users logged in: one group
//    all on node 1, one alternating between the nodes. A round is one group's blast: each user
//    sends K chats to the next user of its group (full JID); messages/s end to end. Across nodes
//    every message crosses; on one node none does (node 2 up and idle). Interleaved rounds;
//    RATIO is the median of the per-round ratios.
// 3. nodedown-cleanup: a node in a child process opens SESSIONS sessions on the Redis backend;
//    kill -9; FIGURE from the kill to the last of them removed with its hook run on the survivor
//    (this process), with the cluster's default timings (detection is most of it), and the
//    clean-up alone (from the survivor's nodedown).
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { Cluster } from '@otp-chat/cluster';
import { Hooks } from '@otp-chat/event-bus';
import { RedisBackend } from '@otp-chat/redis-backend';
import { RedisServer } from '@otp-chat/redis-backend/testing';
import { SessionManager } from '@otp-chat/session-manager';
import { connectClient, type TestClient, xml } from '@otp-chat/xmpp/testing';
import { Redis } from 'ioredis';
import { figure, header, ratio } from './lib.ts';

const SELF = fileURLToPath(import.meta.url);
// The chat server's build (pnpm bench:cluster builds first), run with plain node.
const CHAT_SERVER = fileURLToPath(new URL('../examples/chat-server/dist/main.js', import.meta.url));
const CASTS = Number(process.env.CASTS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const USERS = Number(process.env.USERS ?? 200);
const K = Number(process.env.K ?? 50);
const SESSIONS = Number(process.env.SESSIONS ?? 10_000);
const HOST = 'localhost';
const PAYLOAD = {
  type: 'chat',
  from: 'alice@localhost/laptop',
  body: 'hello there, how are you doing today?',
};

// ---- child processes ------------------------------------------------------------------------

type ChildMessage = { type: 'ready'; ref?: { node: string; id: number } } | { type: 'done'; ms?: number };

/** Forks this script in a role; resolves with the child once it said `ready`. */
function child(role: string, args: readonly string[]): Promise<{ proc: ChildProcess; ready: ChildMessage }> {
  const proc = fork(SELF, [role, ...args], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (m: ChildMessage) => resolve({ proc, ready: m }));
    proc.once('exit', (code) => reject(new Error(`${role} exited (${code})`)));
  });
}

function next(proc: ChildProcess): Promise<ChildMessage> {
  return new Promise((resolve) => proc.once('message', resolve));
}

/** The receiving node of remote-cast: a counting actor, and a bare XREAD loop for the baseline. */
async function receiverRole(url: string): Promise<void> {
  const system = new ActorSystem({ node: 'receiver@bench', logger: silentLogger });
  const cluster = await Cluster.start({ system, url, prefix: 'bench', logger: silentLogger });
  let expect = 0;
  let count = 0;
  const counter: GenServer<null, void, never, never, unknown, never> = {
    init: () => ({ ok: null }),
    handleCast: (_m, s) => {
      if (++count === expect) process.send?.({ type: 'done' });
      return { noreply: true, state: s };
    },
  };
  const ref = await system.spawn(counter, undefined);
  const reader = new Redis(url);
  let lastId = '$';
  let base = 0;
  let baseExpect = 0;
  let reading = false;
  const readLoop = async () => {
    reading = true;
    while (reading) {
      const reply = (await reader
        .xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', 'bench:base', lastId)
        .catch(() => null)) as Array<[string, Array<[string, string[]]>]> | null;
      if (reply === null) continue;
      for (const [, entries] of reply) {
        for (const [id, fields] of entries) {
          lastId = id;
          JSON.parse(fields[1]!);
          if (++base === baseExpect) process.send?.({ type: 'done' });
        }
      }
    }
  };
  void readLoop();
  process.on('message', (m: { type: string; n: number }) => {
    if (m.type === 'expect') {
      count = 0;
      expect = m.n;
    } else if (m.type === 'expect-base') {
      base = 0;
      baseExpect = m.n;
    } else if (m.type === 'exit') {
      reading = false;
      reader.disconnect();
      void cluster.stop().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', ref: ref.toJSON() });
}

/** The node of nodedown-cleanup that dies: SESSIONS sessions on the shared Redis store. */
async function doomedRole(url: string): Promise<void> {
  const system = new ActorSystem({ node: 'doomed@bench', logger: silentLogger });
  await Cluster.start({ system, url, prefix: 'bench-clean', logger: silentLogger });
  const sm = await SessionManager.start({
    system,
    hosts: [HOST],
    backends: { [HOST]: new RedisBackend({ url, prefix: 'bench-sm' }) },
    logger: silentLogger,
  });
  const idle: GenServer<null, void> = { init: () => ({ ok: null }) };
  const BATCH = 200;
  for (let i = 0; i < SESSIONS; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, SESSIONS - i) }, async (_, j) => {
        const conn = await system.spawn(idle, undefined);
        await sm.openSession(sm.makeSid(conn), `u${i + j}`, HOST, 'r', 0);
      }),
    );
  }
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

/**
 * The XMPP load driver. Two groups of USERS users stay logged in for the whole measurement: one
 * group on node 1 only, one alternating between the nodes; a round is one group's blast: each user
 * sends K chats to the next user of its group (full JID), and the round ends when all arrived.
 */
function driverRole(): void {
  Error.stackTraceLimit = 0;
  const groups = new Map<string, TestClient[]>();
  type Raw = {
    on(e: 'stanza', l: (s: { name: string }) => void): void;
    removeAllListeners(e: string): void;
    write(d: string): Promise<void>;
  };
  process.on('message', async (m: { type: string; group?: string; ports?: number[] }) => {
    if (m.type === 'login') {
      const ports = m.ports!;
      const clients: TestClient[] = [];
      for (let i = 0; i < USERS; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(25, USERS - i) }, (_, j) =>
            connectClient({
              port: ports[i + j]!,
              username: `${m.group}${i + j}`,
              password: 'p',
              resource: 'bench',
              timeoutMs: 30_000,
            }),
          ),
        );
        clients.push(...batch);
      }
      for (const c of clients) {
        const raw = c.xmpp as unknown as Raw;
        for (const event of ['element', 'stanza', 'nonza', 'send']) raw.removeAllListeners(event);
      }
      groups.set(m.group!, clients);
      process.send?.({ type: 'done' });
    } else if (m.type === 'blast') {
      const clients = groups.get(m.group!)!;
      const total = USERS * K;
      let received = 0;
      const payloads = clients.map((_, i) => {
        const to = `${m.group}${(i + 1) % USERS}@${HOST}/bench`;
        let out = '';
        for (let k = 0; k < K; k++)
          out += xml('message', { to, type: 'chat' }, xml('body', {}, `m${k}`)).toString();
        return out;
      });
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        clients.forEach((c, i) => {
          const raw = c.xmpp as unknown as Raw;
          raw.removeAllListeners('stanza');
          raw.on('stanza', (s) => {
            if (s.name === 'message' && ++received === total) resolve();
          });
          void raw.write(payloads[i]!).catch(() => {});
        });
        setTimeout(resolve, 120_000).unref();
      });
      process.send?.({
        type: 'done',
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
        received,
      } as ChildMessage);
    } else if (m.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

// ---- the measurements ---------------------------------------------------------------------------

/** CPU seconds a process used so far (utime + stime from /proc; 0 where there is no /proc). */
function cpuOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function remoteCast(url: string): Promise<void> {
  process.stdout.write(`## remote-cast: ${CASTS} casts per round to an actor in another process\n`);
  const system = new ActorSystem({ node: 'sender@bench', logger: silentLogger });
  const cluster = await Cluster.start({ system, url, prefix: 'bench', logger: silentLogger });
  const { proc, ready } = await child('--receiver', [url]);
  const target = (await import('@otp-chat/actor')).ActorRef.fromJSON(
    (ready as { ref: { node: string; id: number } }).ref,
  );
  await eventually(
    'receiver@bench up',
    () => cluster.nodes().includes('receiver@bench'),
    (up) => up,
    30_000,
  );
  const writer = new Redis(url);
  const project = async () => {
    proc.send({ type: 'expect', n: CASTS });
    const done = next(proc);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CASTS; i++) system.cast(target, { ...PAYLOAD, seq: i });
    await done;
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const baseline = async () => {
    proc.send({ type: 'expect-base', n: CASTS });
    const done = next(proc);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CASTS; i++) {
      void writer.xadd(
        'bench:base',
        'MAXLEN',
        '~',
        100_000,
        '*',
        'm',
        JSON.stringify({ ...PAYLOAD, seq: i }),
      );
    }
    await done;
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  await baseline();
  await project();
  const base: number[] = [];
  const proj: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await baseline();
    const p = await project();
    base.push(CASTS / b);
    proj.push(CASTS / p);
    ratios.push(b / p);
  }
  process.stdout.write(
    `bare ioredis XADD + XREAD   ${Math.round(median(base)).toLocaleString('en-US').padStart(10)} msg/s\n` +
      `cluster cast               ${Math.round(median(proj)).toLocaleString('en-US').padStart(10)} msg/s\n\n`,
  );
  proc.send({ type: 'exit' });
  await new Promise((r) => proc.once('exit', r));
  writer.disconnect();
  await cluster.stop();
  ratio('remote-cast', median(ratios));
  process.stdout.write('\n');
}

async function chatNode(name: string, url: string): Promise<{ proc: ChildProcess; port: number }> {
  const users: string[] = [];
  for (const group of ['one', 'two']) for (let i = 0; i < USERS; i++) users.push('--user', `${group}${i}:p`);
  const proc = fork(
    CHAT_SERVER,
    [
      '--backend',
      'redis',
      '--redis-url',
      url,
      '--port',
      '0',
      // Plain TCP: this is about the cluster (TLS is the chat server's own example).
      '--tls',
      'off',
      '--workers',
      '1',
      '--node',
      name,
      '--max-user-sessions',
      'infinity',
      ...users,
    ],
    {
      execArgv: process.env.CHAT_NODE_FLAGS?.split(' ') ?? [],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m && /Ctrl-C/.test(out)) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${out}`)));
  });
  return { proc, port };
}

async function xmppCrossNode(url: string, server: { readonly pid: number | undefined }): Promise<void> {
  const rounds = Math.max(5, ROUNDS * 2);
  process.stdout.write(
    `## xmpp-cross-node: ${USERS} users × ${K} chats per round, two chat-server nodes on one Redis, ${rounds} rounds each\n`,
  );
  const [n1, n2] = await Promise.all([
    chatNode('chat1@bench', `${url}/1`),
    chatNode('chat2@bench', `${url}/1`),
  ]);
  const { proc: driver } = await child('--driver', []);
  const ask = async (m: object) => {
    const done = next(driver);
    driver.send(m);
    return (await done) as { ms?: number; received?: number };
  };
  // Both groups stay logged in: 'one' all on node 1, 'two' alternating between the nodes.
  await ask({ type: 'login', group: 'one', ports: Array.from({ length: USERS }, () => n1!.port) });
  await ask({
    type: 'login',
    group: 'two',
    ports: Array.from({ length: USERS }, (_, i) => (i % 2 === 0 ? n1!.port : n2!.port)),
  });
  const procs = [n1!.proc.pid, n2!.proc.pid, driver.pid, server.pid];
  const cpu = { one: [0, 0, 0, 0], two: [0, 0, 0, 0] };
  const round = async (group: 'one' | 'two') => {
    const before = procs.map(cpuOf);
    const r = await ask({ type: 'blast', group });
    const after = procs.map(cpuOf);
    for (let i = 0; i < 4; i++) cpu[group][i]! += after[i]! - before[i]!;
    return (r.received ?? 0) / (r.ms! / 1000);
  };
  await round('one');
  await round('two');
  const ones: number[] = [];
  const twos: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const o = await round('one');
    const c = await round('two');
    ones.push(o);
    twos.push(c);
    ratios.push(c / o);
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
  process.stdout.write(
    `one node                   ${Math.round(median(ones)).toLocaleString('en-US').padStart(10)} msg/s\n` +
      `across two nodes           ${Math.round(median(twos)).toLocaleString('en-US').padStart(10)} msg/s\n` +
      `CPU s over the measured rounds (node 1 / node 2 / driver / redis): one node ${fmt(cpu.one)}, across ${fmt(cpu.two)}\n\n`,
  );
  driver.send({ type: 'exit' });
  for (const n of [n1!, n2!]) n.proc.kill('SIGTERM');
  await Promise.all([n1!, n2!].map((n) => new Promise((r) => n.proc.once('exit', r))));
  ratio('xmpp-cross-node', median(ratios));
  process.stdout.write('\n');
}

async function nodedownCleanup(url: string): Promise<void> {
  process.stdout.write(
    `## nodedown-cleanup: ${SESSIONS} sessions of a node killed with kill -9 (default timings)\n`,
  );
  const system = new ActorSystem({ node: 'survivor@bench', logger: silentLogger });
  const cluster = await Cluster.start({ system, url, prefix: 'bench-clean', logger: silentLogger });
  const hooks = new Hooks();
  let removed = 0;
  let lastHook = 0;
  hooks.add(
    'sm_remove_connection_hook',
    HOST,
    () => {
      removed++;
      lastHook = performance.now();
    },
    50,
  );
  const sm = await SessionManager.start({
    system,
    hosts: [HOST],
    hooks,
    backends: { [HOST]: new RedisBackend({ url, prefix: 'bench-sm' }) },
    logger: silentLogger,
  });
  cluster.addNodeCleanup((node, { signal }) => sm.cleanNode(node, { signal }));
  let downAt = 0;
  cluster.monitorNodes((e) => {
    if (e.type === 'nodedown' && e.node === 'doomed@bench') downAt = performance.now();
  });
  const { proc } = await child('--doomed', [url]);
  await eventually(
    'doomed@bench up',
    () => cluster.nodes().includes('doomed@bench'),
    (up) => up,
    30_000,
  );
  const before = await sm.connectedUsersNumber();
  const killedAt = performance.now();
  proc.kill('SIGKILL');
  const deadline = Date.now() + 120_000;
  while (removed < SESSIONS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const total = lastHook - killedAt;
  process.stdout.write(
    `sessions before ${before}, hooks run ${removed}, left ${await sm.connectedUsersNumber()}\n` +
      `kill -9 → nodedown ${((downAt - killedAt) / 1000).toFixed(2)} s, nodedown → last hook ${((lastHook - downAt) / 1000).toFixed(2)} s\n\n`,
  );
  await sm.stop();
  await cluster.stop();
  figure('nodedown-cleanup', total, 'ms');
  figure('nodedown-cleanup-after-detection', lastHook - downAt, 'ms');
}

async function main(): Promise<void> {
  header('bench:cluster — @otp-chat/cluster on a private redis-server');
  process.stdout.write('# the machine is shared: absolute figures drift, ratios are measured in one run\n\n');
  const server = await RedisServer.start();
  // ONLY=remote-cast|xmpp-cross-node|nodedown-cleanup runs one of the three.
  const only = process.env.ONLY;
  try {
    if (only === undefined || only === 'remote-cast') await remoteCast(server.url);
    if (only === undefined || only === 'xmpp-cross-node') await xmppCrossNode(server.url, server);
    if (only === undefined || only === 'nodedown-cleanup') await nodedownCleanup(`${server.url}/2`);
  } finally {
    await server.stop();
  }
}

if (process.argv[2] === '--receiver') void receiverRole(process.argv[3]!);
else if (process.argv[2] === '--doomed') void doomedRole(process.argv[3]!);
else if (process.argv[2] === '--driver') driverRole();
else
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
