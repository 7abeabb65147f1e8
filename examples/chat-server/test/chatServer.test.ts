import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { canRunRedisTests, startTestRedis, uniquePrefix } from '@otp-chat/redis-backend/testing';
import { canRunPostgresTests, startTestPostgres } from '@otp-chat/sql-backend/testing';
import { connectClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  type ChatServerConfig,
  ConfigError,
  clusterUrlOf,
  DEFAULT_CONFIG,
  parseConfig,
} from '../src/config.ts';
import { startChatServer, uniqueNodeName } from '../src/startChatServer.ts';
import './support/trustCertificate.ts';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(PACKAGE_DIR, 'src', 'main.ts');

describe('chat-server config', () => {
  const cases: Array<[string, string[], Partial<typeof DEFAULT_CONFIG>]> = [
    ['defaults: memory backend, 127.0.0.1:5222, two demo users', [], DEFAULT_CONFIG],
    [
      '--port and --domain',
      ['--port', '5333', '--domain=chat.example'],
      { port: 5333, domain: 'chat.example' },
    ],
    [
      '--backend redis with a URL',
      ['--backend', 'redis', '--redis-url', 'redis://10.0.0.1:6380'],
      { backend: 'redis', redisUrl: 'redis://10.0.0.1:6380' },
    ],
    [
      '--backend postgres with a URL',
      ['--backend', 'postgres', '--postgres-url', 'postgres://chat@10.0.0.1:5433/chat'],
      { backend: 'postgres', postgresUrl: 'postgres://chat@10.0.0.1:5433/chat' },
    ],
    ['--max-user-sessions', ['--max-user-sessions', '3'], { maxUserSessions: 3 }],
    [
      '--vhost, repeatable',
      ['--vhost', 'a.example', '--vhost', 'b.example'],
      { vhosts: ['a.example', 'b.example'] },
    ],
    ['--node', ['--node', 'chat1@host-a'], { node: 'chat1@host-a' }],
    [
      '--cluster-url and its timings',
      [
        '--backend',
        'redis',
        '--cluster-url',
        'redis://10.0.0.2',
        '--cluster-heartbeat',
        '500',
        '--cluster-timeout',
        '3000',
      ],
      { backend: 'redis', clusterUrl: 'redis://10.0.0.2', clusterHeartbeatMs: 500, clusterTimeoutMs: 3000 },
    ],
    [
      '--cluster-url none',
      ['--backend', 'redis', '--cluster-url', 'none'],
      { backend: 'redis', clusterUrl: 'none' },
    ],
    [
      '--backend postgres with a cluster over Redis',
      [
        '--backend',
        'postgres',
        '--postgres-url',
        'postgres://chat@10.0.0.1/chat',
        '--cluster-url',
        'redis://10.0.0.2',
      ],
      { backend: 'postgres', postgresUrl: 'postgres://chat@10.0.0.1/chat', clusterUrl: 'redis://10.0.0.2' },
    ],
    [
      '--max-user-sessions infinity',
      ['--max-user-sessions', 'infinity'],
      { maxUserSessions: Number.POSITIVE_INFINITY },
    ],
    [
      '--user replaces the demo users',
      ['--user', 'carol:pw', '--user', 'dan:x:y'],
      {
        users: [
          { user: 'carol', password: 'pw' },
          { user: 'dan', password: 'x:y' },
        ],
      },
    ],
  ];
  it.each(cases)('%s', (_name, argv, expected) => {
    expect(parseConfig(argv)).toEqual({ ...DEFAULT_CONFIG, ...expected });
  });

  it('a config file with backend postgres and its URL (postgresql:// too)', () => {
    const file = JSON.stringify({
      backend: 'postgres',
      postgresUrl: 'postgresql://chat@127.0.0.1:5433/chat',
    });
    expect(parseConfig(['--config', 'c.json'], () => file)).toEqual({
      ...DEFAULT_CONFIG,
      backend: 'postgres',
      postgresUrl: 'postgresql://chat@127.0.0.1:5433/chat',
    });
  });

  it('a config file, with flags winning over it', () => {
    const file = JSON.stringify({
      backend: 'redis',
      port: 6000,
      maxUserSessions: 5,
      users: [{ user: 'zed', password: 'z' }],
    });
    const config = parseConfig(['--config', 'c.json', '--port', '7000'], () => file);
    expect(config).toEqual({
      ...DEFAULT_CONFIG,
      backend: 'redis',
      port: 7000,
      maxUserSessions: 5,
      users: [{ user: 'zed', password: 'z' }],
    });
  });

  it.each([
    [['--port', 'x']],
    [['--backend', 'mnesia']],
    [['--max-user-sessions', '0']],
    [['--user', 'nopassword']],
    [['--node', 'two words']],
    [['--cluster-url', 'redis://x']], // the memory backend cannot be shared
    [['--backend', 'redis', '--cluster-timeout', '0']],
    [['--node', 'a@b@c']],
    [['--vhost', 'a b']],
    [['--vhost', 'LocalHost']], // the domain again
    [['--vhost', 'x.example', '--vhost', 'x.example']],
    [['--bogus', '1']],
    [['--port']],
  ])('rejects %j with a ConfigError', (argv) => {
    expect(() => parseConfig(argv)).toThrow(ConfigError);
  });

  it('the cluster follows the Redis backend unless told otherwise', () => {
    const url = (argv: string[]) => clusterUrlOf(parseConfig(argv) as ChatServerConfig);
    expect(url([])).toBeUndefined();
    expect(url(['--backend', 'redis', '--redis-url', 'redis://r:1'])).toBe('redis://r:1');
    expect(url(['--backend', 'redis', '--cluster-url', 'redis://c:2'])).toBe('redis://c:2');
    expect(url(['--backend', 'redis', '--cluster-url', 'none'])).toBeUndefined();
    // PostgreSQL implies no Redis: a cluster only when asked for.
    expect(url(['--backend', 'postgres'])).toBeUndefined();
    expect(url(['--backend', 'postgres', '--cluster-url', 'redis://c:2'])).toBe('redis://c:2');
  });

  it('--help', () => {
    expect(parseConfig(['--help'])).toBe('help');
  });

  // The zod schema names the bad key, in the file and in the flags.
  it.each([
    ['a user without a name (users: [{}])', { users: [{}] }, 'c.json: users[0].user'],
    ['a user without a password', { users: [{ user: 'zed' }] }, 'c.json: users[0].password'],
    ['an invalid user name', { users: [{ user: 'a b', password: 'x' }] }, 'c.json: users[0].user'],
    ['no user at all', { users: [] }, 'c.json: users'],
    ['an unknown key', { prot: 5222 }, 'c.json: prot'],
    [
      'an unknown key in a user',
      { users: [{ user: 'a', password: 'b', admin: true }] },
      'c.json: users[0].admin',
    ],
    ['a port as a string', { port: '5222' }, 'c.json: port'],
    ['a port out of range', { port: 70000 }, 'c.json: port'],
    ['a backend that does not exist', { backend: 'mnesia' }, 'c.json: backend'],
    ['a redis URL that is not one', { redisUrl: 'http://x' }, 'c.json: redisUrl'],
    ['a postgres URL that is not one', { postgresUrl: 'mysql://x/db' }, 'c.json: postgresUrl'],
    ['a postgres URL that is not a string', { postgresUrl: 5432 }, 'c.json: postgresUrl'],
    [
      'a cluster URL that is not a Redis one',
      { backend: 'postgres', clusterUrl: 'postgres://x/db' },
      'c.json: clusterUrl',
    ],
    ['a node name that is not one', { node: 'a b' }, 'c.json: node'],
    ['a fractional maxUserSessions', { maxUserSessions: 1.5 }, 'c.json: maxUserSessions'],
    ['a domain that is not one', { domain: 'a b' }, 'c.json: domain'],
  ])('config file: %s → a ConfigError naming %s', (_what, json, option) => {
    let error: unknown;
    try {
      parseConfig(['--config', 'c.json'], () => JSON.stringify(json));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
    expect((error as ConfigError).message.startsWith(`${option}: `)).toBe(true);
  });

  it.each([
    [['--port', 'x'], '--port'],
    [['--port', ''], '--port'],
    [['--backend', 'mnesia'], '--backend'],
    [['--max-user-sessions', '0'], '--max-user-sessions'],
    [['--redis-url', 'localhost:6379'], '--redis-url'],
    [['--backend', 'postgresql'], '--backend'],
    [['--postgres-url', '127.0.0.1:5432'], '--postgres-url'],
    [['--backend', 'postgres', '--postgres-url', 'redis://127.0.0.1:6379'], '--postgres-url'],
    [['--backend', 'postgres', '--cluster-url', 'postgres://127.0.0.1/db'], '--cluster-url'],
    [['--cluster-url', 'redis://127.0.0.1:6379'], '--cluster-url'], // memory: nothing to share
    [['--user', 'a b:pw'], '--user: [0].user'],
    [['--bogus', '1'], '--bogus'],
  ])('flags %j → a ConfigError naming %s', (argv, option) => {
    expect(() => parseConfig(argv)).toThrow(expect.objectContaining({ name: 'ConfigError', option }));
  });
});

describe('chat-server banner', () => {
  it('prints no password, and its connect hint shows no made-up one', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, '--port', '0', '--user', 'carol:s3cret-Pw'],
      {
        cwd: PACKAGE_DIR,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(
        'the chat server banner',
        () => {
          if (child.exitCode !== null) throw new Error(`the server exited: ${out}`);
          return out.includes('Ctrl-C to stop.');
        },
        (shown) => shown,
        15_000,
      );
      expect(out).toContain('carol@localhost');
      expect(out).not.toContain('s3cret-Pw');
      expect(out).not.toMatch(/password: "/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('chat-server node names', () => {
  it('each server gets its own default node name, printed in the banner', async () => {
    expect(uniqueNodeName()).not.toBe(uniqueNodeName());
    expect(uniqueNodeName()).toMatch(new RegExp(`^chat-${process.pid}-[0-9a-f]{6}@`));
    const a = await startChatServer({ ...DEFAULT_CONFIG, port: 0 }, { logger: silentLogger });
    const b = await startChatServer({ ...DEFAULT_CONFIG, port: 0 }, { logger: silentLogger });
    const c = await startChatServer(
      { ...DEFAULT_CONFIG, port: 0, node: 'fixed@here' },
      { logger: silentLogger },
    );
    try {
      expect(a.system.node).not.toBe(b.system.node);
      expect(c.system.node).toBe('fixed@here');
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });
});

// Two servers on one Redis used to share the node name `chat@local`: a session ref read from Redis
// resolved by id to whatever local actor had that id, so node 2 sent alice's `replaced` to bob.
// Now each has its own name, and the cluster (on by default with --backend redis) carries the
// `replaced` to alice's session on node 1.
describe.skipIf(!canRunRedisTests('chat-server: two nodes on one Redis'))(
  'chat-server: two nodes on one Redis',
  () => {
    it("a second login of alice on node 2 replaces alice's session on node 1, not bob's", async () => {
      const redis = await startTestRedis();
      const config = { ...DEFAULT_CONFIG, port: 0, backend: 'redis' as const, redisUrl: redis.url };
      const prefix = uniquePrefix('chat-nodes');
      const one = await startChatServer(config, { logger: silentLogger, redisPrefix: prefix });
      const two = await startChatServer(config, { logger: silentLogger, redisPrefix: prefix });
      try {
        const alice1 = await connectClient({
          port: one.address.port,
          username: 'alice',
          password: 'alice',
          resource: 'r',
        });
        const bob = await connectClient({
          port: two.address.port,
          username: 'bob',
          password: 'bob',
          resource: 'r',
        });
        // Same full JID on the other node: its `replaced` is for alice's session on node 1 only.
        const alice2 = await connectClient({
          port: two.address.port,
          username: 'alice',
          password: 'alice',
          resource: 'r',
        });
        const pong = await bob.xmpp.iqCaller.request(
          xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
        );
        expect(pong.attrs.type).toBe('result');
        expect(bob.streamErrors).toEqual([]);
        await alice1.offline;
        expect(alice1.streamErrors.map((e) => e.condition)).toEqual(['conflict']);
        expect(one.cluster?.nodes()).toEqual([two.system.node]);
        await Promise.all([alice2.stop(), bob.stop()]);
      } finally {
        await Promise.all([one.stop(), two.stop()]);
        await redis.stop();
      }
    });
  },
);

describe('chat-server with @xmpp/client', () => {
  it('the demo users log in and chat; stop() ends their streams with system-shutdown', async () => {
    const server = await startChatServer({ ...DEFAULT_CONFIG, port: 0 }, { logger: silentLogger });
    const port = server.address.port;
    const alice = await connectClient({ port, username: 'alice', password: 'alice', resource: 'laptop' });
    const bob = await connectClient({ port, username: 'bob', password: 'bob', resource: 'phone' });
    await alice.send(
      xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'hello from alice')),
    );
    await bob.send(xml('presence'));
    await alice.send(
      xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'are you there?')),
    );
    const got = await bob.waitFor((s) => s.getChildText('body') === 'are you there?');
    expect(got.attrs.from).toBe('alice@localhost/laptop');
    // The first message went to the offline store (bob had not sent presence) and arrives too.
    await bob.waitFor((s) => s.getChildText('body') === 'hello from alice');
    await server.stop();
    await Promise.all([alice.offline, bob.offline]);
    expect(alice.streamErrors.map((e) => e.condition)).toEqual(['system-shutdown']);
  });
});

// --backend postgres: sessions (ejabberd's sm table) and the demo accounts (users table) in one
// PostgreSQL database; a second start finds the accounts there and the sessions gone.
describe.runIf(canRunPostgresTests('chat-server --backend postgres'))(
  'chat-server --backend postgres',
  () => {
    it('the demo users log in and chat with sessions and accounts in PostgreSQL, across a restart', async () => {
      const pg = await startTestPostgres();
      try {
        const config = { ...DEFAULT_CONFIG, port: 0, backend: 'postgres' as const, postgresUrl: pg.url };
        for (const round of [1, 2]) {
          const server = await startChatServer(config, { logger: silentLogger });
          expect(server.cluster).toBeUndefined(); // no Redis implied
          const port = server.address.port;
          const alice = await connectClient({
            port,
            username: 'alice',
            password: 'alice',
            resource: 'laptop',
          });
          const bob = await connectClient({ port, username: 'bob', password: 'bob', resource: 'phone' });
          expect(await server.xmpp.sm.connectedUsers()).toEqual([
            'alice@localhost/laptop',
            'bob@localhost/phone',
          ]);
          await bob.send(xml('presence'));
          await alice.send(
            xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, `round ${round}`)),
          );
          const got = await bob.waitFor((s) => s.getChildText('body') === `round ${round}`);
          expect(got.attrs.from).toBe('alice@localhost/laptop');
          await server.stop();
          await Promise.all([alice.offline, bob.offline]);
        }
      } finally {
        await pg.stop();
      }
    });
  },
);
