// examples/cluster: three chat-server nodes in three processes on one Redis, started by one
// command; alice, bob and carol each log in on their own node and chat across nodes; then carol's
// node is killed (kill -9) and the cluster notices, cleans its sessions on one survivor, and a
// message to carol is kept offline until she logs in again on a surviving node.
//
//   pnpm --filter @otp-chat/example-cluster start                 # a private redis-server
//   pnpm --filter @otp-chat/example-cluster start -- --redis-url redis://127.0.0.1:6379
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { silentLogger, systemClock } from '@otp-chat/actor';
import { RedisBackend } from '@otp-chat/redis-backend';
import { findRedisServer, RedisServer } from '@otp-chat/redis-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';

// Run from the build (`start`: dist/main.js), the nodes are the chat server's build too, with plain
// node; run from sources (`dev`, tests), its sources through tsx.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const CHAT_SERVER = fileURLToPath(
  new URL(FROM_SOURCES ? '../../chat-server/src/main.ts' : '../../chat-server/dist/main.js', import.meta.url),
);
const NODE_ARGS = FROM_SOURCES ? ['--import', 'tsx', '--conditions=@otp-chat/source'] : [];
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HEARTBEAT_MS = Number(process.env.CLUSTER_HEARTBEAT_MS ?? 500);
const TIMEOUT_MS = Number(process.env.CLUSTER_TIMEOUT_MS ?? 2500);
const USERS = ['alice', 'bob', 'carol'] as const;
const t0 = Date.now();

function say(line: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);
}

interface Node {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly port: number;
  readonly exited: Promise<void>;
}

/** Starts examples/chat-server in a child process (over IPC: it stops when this process ends). */
function startNode(name: string, redisUrl: string): Promise<Node> {
  const proc = fork(
    CHAT_SERVER,
    [
      '--backend',
      'redis',
      '--redis-url',
      redisUrl,
      '--port',
      '0',
      // Plain TCP: this is about the cluster (TLS is the chat server's own example).
      '--tls',
      'off',
      '--workers',
      '1',
      '--node',
      name,
      '--cluster-heartbeat',
      String(HEARTBEAT_MS),
      '--cluster-timeout',
      String(TIMEOUT_MS),
      ...USERS.flatMap((u) => ['--user', `${u}:${u}`]),
    ],
    { cwd: REPO_ROOT, execArgv: NODE_ARGS, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    let started = false;
    const onData = (d: Buffer) => {
      const text = d.toString();
      out += text;
      if (started) {
        // What the node prints about the cluster once it runs.
        for (const line of text.split('\n')) if (/joined|left/.test(line)) say(`${name}: ${line.trim()}`);
        return;
      }
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m && /Ctrl-C/.test(out)) {
        started = true;
        resolve({ name, proc, port: Number(m[1]), exited });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    void exited.then(() => {
      if (!started) reject(new Error(`${name} exited before it listened:\n${out}`));
    });
  });
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf('--redis-url');
  let redisUrl = flag >= 0 ? process.argv[flag + 1] : undefined;
  let server: RedisServer | undefined;
  if (redisUrl === undefined) {
    if (findRedisServer() !== undefined) {
      server = await RedisServer.start();
      redisUrl = server.url;
      say(`started a private redis-server on ${redisUrl}`);
    } else {
      redisUrl = 'redis://127.0.0.1:6379';
      say(`redis-server is not installed here; using ${redisUrl} (--redis-url to choose)`);
    }
  }
  const nodes: Node[] = [];
  const clients: TestClient[] = [];
  // Reads the shared session store, as any node's session manager does.
  const store = new RedisBackend({ url: redisUrl, prefix: 'otp-chat-example' });
  try {
    say(`starting 3 nodes (heartbeat ${HEARTBEAT_MS} ms, a silent node is down after ${TIMEOUT_MS} ms)`);
    nodes.push(...(await Promise.all([1, 2, 3].map((i) => startNode(`node${i}@localhost`, redisUrl)))));
    for (const n of nodes) say(`${n.name} listens on 127.0.0.1:${n.port}`);
    await store.init({
      node: 'observer@localhost',
      hosts: ['localhost'],
      logger: silentLogger,
      clock: systemClock,
    });

    // One user per node; each sends available presence (so bare-JID messages reach it).
    for (const [i, user] of USERS.entries()) {
      const c = await connectClient({
        port: nodes[i]!.port,
        username: user,
        password: user,
        resource: 'home',
      });
      c.onStanza((s) => {
        if (s.is('message') && s.getChildText('body')) {
          const delayed = s.getChild('delay', 'urn:xmpp:delay') ? ' (kept offline, delivered now)' : '';
          say(`${user} got "${s.getChildText('body')}" from ${s.attrs.from}${delayed}`);
        }
      });
      await c.send(xml('presence'));
      await c.waitFor((s) => s.is('presence') && s.attrs.from === c.jid);
      clients.push(c);
      say(`${c.jid} logged in on ${nodes[i]!.name}`);
    }
    await showSessions(store);

    // Messages across nodes, each to a user on another node.
    for (const [i, user] of USERS.entries()) {
      const to = USERS[(i + 1) % USERS.length]!;
      await clients[i]!.send(
        xml(
          'message',
          { to: `${to}@localhost`, type: 'chat' },
          xml('body', {}, `hello ${to}, this is ${user}`),
        ),
      );
    }
    for (const [i, user] of USERS.entries()) {
      const from = USERS[(i + USERS.length - 1) % USERS.length]!;
      await clients[i]!.waitFor((s) => s.getChildText('body') === `hello ${user}, this is ${from}`);
    }

    // carol's node dies without a word.
    const dead = nodes[2]!;
    say(`kill -9 ${dead.name} (carol's node)`);
    const killedAt = Date.now();
    dead.proc.kill('SIGKILL');
    await dead.exited;
    await clients[2]!.offline;
    // A survivor declares it down and removes its sessions (hooks run for each).
    const deadline = Date.now() + 30_000;
    while ((await store.getSessions('localhost')).some((s) => s.sid.ref.node === dead.name)) {
      if (Date.now() > deadline) throw new Error(`${dead.name}'s sessions were not cleaned within 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`${dead.name}'s sessions cleaned ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    await showSessions(store);

    // carol has no session now: a message to her goes to offline storage on alice's node, and
    // reaches her when she logs in again on a surviving node.
    await clients[0]!.send(
      xml('message', { to: 'carol@localhost', type: 'chat' }, xml('body', {}, 'carol, are you there?')),
    );
    const again = await connectClient({
      port: nodes[0]!.port,
      username: 'carol',
      password: 'carol',
      resource: 'home',
    });
    again.onStanza((s) => {
      if (s.is('message') && s.getChildText('body')) {
        const delayed = s.getChild('delay', 'urn:xmpp:delay') ? ' (kept offline, delivered now)' : '';
        say(`carol got "${s.getChildText('body')}" from ${s.attrs.from}${delayed}`);
      }
    });
    clients[2] = again;
    say(`${again.jid} logged in again, on ${nodes[0]!.name}`);
    await again.send(xml('presence'));
    await again.waitFor((s) => s.getChildText('body') === 'carol, are you there?');
    say('done');
  } finally {
    await Promise.all(clients.map((c) => c.stop().catch(() => {})));
    await store.stop();
    for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n.exited));
    await server?.stop();
  }
}

async function showSessions(store: RedisBackend): Promise<void> {
  const rows = await store.getSessions('localhost');
  const byNode = rows.map((s) => `${s.luser}/${s.lresource} on ${s.sid.ref.node}`).sort();
  say(`sessions in the store: ${byNode.length === 0 ? 'none' : byNode.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
