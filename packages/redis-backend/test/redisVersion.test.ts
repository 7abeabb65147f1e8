import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { ActorSystem, silentLogger, systemClock } from '@otp-chat/actor';
import { capturingLogger, type LoggedLine } from '@otp-chat/actor/testing';
import { BackendInitError, SessionManager } from '@otp-chat/session-manager';
import { afterEach, describe, expect, it } from 'vitest';
import {
  compareRedisVersions,
  MIN_REDIS_VERSION,
  RedisBackend,
  redisVersionOf,
  UnsupportedRedisVersionError,
} from '../src/index.ts';
import { CLEAN_NODE_SCRIPT } from '../src/internal/cleanNodeScript.ts';

describe('the Redis versions the backend runs on', () => {
  it('is ejabberd’s minimum, 3.2.0 (redis.replicate_commands)', () => {
    expect(MIN_REDIS_VERSION).toBe('3.2.0');
    // The clean-up script asks for effects replication first, where the function exists.
    expect(CLEAN_NODE_SCRIPT.trim().split('\n')[0]).toBe(
      'if redis.replicate_commands then redis.replicate_commands() end',
    );
  });

  // [a, b, sign of a - b]
  const order: [string, string, number][] = [
    ['3.2.0', '3.2.0', 0],
    ['3.2', '3.2.0', 0],
    ['3.0.7', '3.2.0', -1],
    ['2.8.24', '3.2.0', -1],
    ['3.2.1', '3.2.0', 1],
    ['4.0.14', '3.2.0', 1],
    ['7.0.15', '3.2.0', 1],
    ['10.0.0', '3.2.0', 1], // ejabberd compares binaries: "10.0.0" < "3.2.0" there
    ['3.10.0', '3.2.0', 1],
    ['6.2.6-rc1', '6.2.6', 0],
  ];
  it.each(order)('%s against %s: %i', (a, b, sign) => {
    expect(compareRedisVersions(a, b)).toBe(sign);
  });

  const infos: [string, string | undefined][] = [
    ['# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n', '7.0.15'],
    ['redis_version:3.0.7\r\n', '3.0.7'],
    ['# Server\r\nredis_mode:standalone\r\n', undefined],
    ['', undefined],
  ];
  it.each(infos)('INFO %j reports %s', (info, version) => {
    expect(redisVersionOf(info)).toBe(version);
  });
});

/**
 * A loopback server speaking just enough RESP for ioredis to connect: `INFO` answers `info`,
 * `SUBSCRIBE` confirms, anything else `+OK`. It stands in for
 * a Redis older than any that can be installed here; it is not the unit under test.
 */
class FakeRedis {
  readonly commands: string[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    private readonly info: string,
  ) {}

  static async start(info: string): Promise<FakeRedis> {
    const server = createServer();
    const fake = new FakeRedis(server, info);
    server.on('connection', (socket) => fake.serve(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return fake;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return `redis://127.0.0.1:${address.port}`;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buffer = '';
    socket.on('data', (data) => {
      buffer += data.toString('utf8');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (parsed === undefined) return;
        buffer = buffer.slice(parsed.length);
        const [name = '', ...args] = parsed.command;
        this.commands.push([name.toUpperCase(), ...args].join(' '));
        socket.write(this.reply(name.toUpperCase(), args));
      }
    });
  }

  private reply(name: string, args: string[]): string {
    if (name === 'INFO') {
      return `$${Buffer.byteLength(this.info)}\r\n${this.info}\r\n`;
    }
    if (name === 'SUBSCRIBE') {
      const channel = args[0] ?? '';
      return `*3\r\n$9\r\nsubscribe\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n:1\r\n`;
    }
    return '+OK\r\n';
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** One RESP array of bulk strings at the start of `buffer`, or undefined when incomplete. */
function parseCommand(buffer: string): { command: string[]; length: number } | undefined {
  const header = /^\*(\d+)\r\n/.exec(buffer);
  if (header === null) return undefined;
  let at = header[0].length;
  const command: string[] = [];
  for (let i = 0; i < Number(header[1]); i++) {
    const bulk = /^\$(\d+)\r\n/.exec(buffer.slice(at));
    if (bulk === null) return undefined;
    const start = at + bulk[0].length;
    const end = start + Number(bulk[1]);
    if (buffer.length < end + 2) return undefined;
    command.push(buffer.slice(start, end));
    at = end + 2;
  }
  return { command, length: at };
}

const context = (logger = silentLogger) => ({
  node: 'node1',
  hosts: ['example.com'],
  logger,
  clock: systemClock,
});

describe('a Redis older than MIN_REDIS_VERSION is refused at init, with a clear error', () => {
  let fake: FakeRedis | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  it('Redis 3.0.7: init rejects with UnsupportedRedisVersionError and leaves nothing connected', async () => {
    fake = await FakeRedis.start('# Server\r\nredis_version:3.0.7\r\nredis_mode:standalone\r\n');
    const lines: LoggedLine[] = [];
    const backend = new RedisBackend({ url: fake.url });
    const error = await backend.init(context(capturingLogger(lines))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRedisVersionError);
    expect(error).toMatchObject({
      name: 'UnsupportedRedisVersionError',
      backend: 'redis',
      version: '3.0.7',
      minimum: '3.2.0',
    });
    expect((error as Error).message).toBe(
      'Redis 3.0.7 is too old for the session backend redis: it needs Redis 3.2.0 or later ' +
        '(its node clean-up script writes after HSCAN, which needs redis.replicate_commands())',
    );
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: (error as Error).message }));
    // Refused before the subscription connection and before any write.
    expect(fake.commands.some((c) => c.startsWith('SUBSCRIBE') || c.startsWith('SET'))).toBe(false);
    expect(backend.status).toBe('stopped');
  });

  it('the session manager does not start on it: BackendInitError, caused by the version', async () => {
    fake = await FakeRedis.start('redis_version:2.8.24\r\n');
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const backend = new RedisBackend({ url: fake.url });
    const error = await SessionManager.start({
      system,
      hosts: ['example.com'],
      backends: { 'example.com': backend },
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendInitError);
    expect((error as BackendInitError).cause).toBeInstanceOf(UnsupportedRedisVersionError);
    expect((error as BackendInitError).cause).toMatchObject({ version: '2.8.24' });
  });

  it('a server that does not tell its version (a proxy’s INFO) is used, with a warning', async () => {
    fake = await FakeRedis.start('# Server\r\nredis_mode:standalone\r\n');
    const lines: LoggedLine[] = [];
    const backend = new RedisBackend({ url: fake.url });
    await backend.init(context(capturingLogger(lines)));
    expect(backend.status).toBe('ready');
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'redis does not report its version; assuming a supported one',
      }),
    );
    await backend.stop();
  });
});
