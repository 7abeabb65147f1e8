import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { connectClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseConfig } from '../src/config.ts';
import { startChatServer } from '../src/startChatServer.ts';

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
    ['--max-user-sessions', ['--max-user-sessions', '3'], { maxUserSessions: 3 }],
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
    [['--bogus', '1']],
    [['--port']],
  ])('rejects %j with a ConfigError', (argv) => {
    expect(() => parseConfig(argv)).toThrow(ConfigError);
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
