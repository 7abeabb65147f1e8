// Issue 11, finding 5: the chat server (examples/chat-server, a real process) on a Redis that is
// killed, restarted empty, or frozen (SIGSTOP), driven by raw XMPP sockets. Nothing is dropped
// silently, the server keeps answering what needs no store, live sessions are re-registered, and
// Ctrl-C ends it whatever Redis does.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '@otp-chat/actor/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { canRunRedisTests, RedisServer } from '../src/testing/index.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../../examples/chat-server/src/main.ts');
/** The key prefix examples/chat-server gives its RedisBackend. */
const PREFIX = 'otp-chat-example';
const STREAMS_HEADER =
  "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/** A raw XMPP client: PLAIN login, bind, and everything received as text. */
class Raw {
  text = '';
  readonly closed: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private ended = false;
  jid = '';

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.text += d;
      for (const w of [...this.waiters]) w();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        for (const w of [...this.waiters]) w();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<Raw> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Raw(socket);
  }

  /** Logs in and binds; resolves with the bind answer (a `<jid>` or an error). */
  static async login(port: number, user: string, resource: string): Promise<Raw> {
    const c = await Raw.open(port);
    const auth = Buffer.from(`\0${user}\0${user}`).toString('base64'); // the demo passwords
    c.socket.write(
      `${STREAMS_HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`,
    );
    await c.waitFor((t) => t.includes('<success'));
    c.socket.write(
      `${STREAMS_HEADER}<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    await c.waitFor((t) => t.includes('</jid>') || /<iq[^>]*type="error"[^>]*id="bind"/.test(t));
    c.jid = /<jid>([^<]*)<\/jid>/.exec(c.text)?.[1] ?? '';
    return c;
  }

  send(data: string): void {
    if (!this.ended) this.socket.write(data);
  }

  waitFor(predicate: (text: string) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this.text)) {
          this.waiters.delete(check);
          resolve();
        } else if (this.ended) {
          this.waiters.delete(check);
          reject(new Error(`closed before the awaited data; got ${this.text.slice(-300)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The start tag of the stanza `name` with id `id`, if received. */
  stanza(name: string, id: string): string | undefined {
    return new RegExp(`<${name}\\b[^>]*\\bid="${id}"[^>]*>`).exec(this.text)?.[0];
  }
}

/** The chat server as a child process on `redisUrl`; resolves once it listens. */
async function startChatServer(
  redisUrl: string,
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--port', '0', '--workers', '1', '--backend', 'redis', '--redis-url', redisUrl],
    { cwd: dirname(MAIN), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await eventually(
    'the chat server to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`the chat server exited: ${out}`);
      return /listening on [\d.]+:(\d+)/.test(out);
    },
    (listening) => listening,
    15_000,
  );
  const port = Number(/listening on [\d.]+:(\d+)/.exec(out)![1]);
  return { child, port, output: () => out };
}

const exitOf = (child: ChildProcess) =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe.skipIf(!canRunRedisTests('chat server on a failing Redis', 'server'))(
  'the chat server when Redis fails (real process, raw sockets)',
  () => {
    const cleanup: Array<() => Promise<unknown> | unknown> = [];
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });

    async function setup() {
      const redis = await RedisServer.start();
      cleanup.push(() => redis.stop());
      const server = await startChatServer(redis.url);
      cleanup.push(async () => {
        server.child.kill('SIGKILL');
        await exitOf(server.child);
      });
      const login = async (user: string, resource: string) => {
        const c = await Raw.login(server.port, user, resource);
        cleanup.push(() => c.socket.destroy());
        return c;
      };
      return { redis, server, login };
    }

    it('Redis killed: what cannot be routed is answered with internal-server-error, a local full JID still gets its message, pings are answered', async () => {
      const { redis, login } = await setup();
      const alice = await login('alice', 'a');
      const bob = await login('bob', 'b');
      bob.send('<presence/>');
      await bob.waitFor((t) => t.includes('<presence'));
      await redis.kill();
      // Each probe to bob's bare JID is delivered (the server has not noticed yet: its cache) or
      // answered with an error, never dropped; once Redis is known down, the error comes.
      for (let i = 0; ; i++) {
        alice.send(`<message to='bob@localhost' type='chat' id='p${i}'><body>probe</body></message>`);
        await Promise.race([
          bob.waitFor((t) => t.includes(`id="p${i}"`)),
          alice.waitFor((t) => t.includes(`id="p${i}"`)),
        ]);
        const answer = alice.stanza('message', `p${i}`);
        if (answer !== undefined) {
          expect(answer).toContain('type="error"');
          await alice.waitFor((t) => /id="p\d+"[^>]*>[\s\S]*?<internal-server-error/.test(t));
          break;
        }
      }
      // A full JID on this node is delivered from the node's own knowledge of its sessions.
      alice.send(`<message to='${bob.jid}' type='chat' id='full'><body>direct</body></message>`);
      await bob.waitFor((t) => t.includes('id="full"'));
      // Pings to the server and to a bare JID are answered.
      alice.send("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      alice.send("<iq type='get' id='ping2' to='bob@localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      await alice.waitFor((t) => /<iq[^>]*id="ping1"/.test(t) && /<iq[^>]*id="ping2"/.test(t));
      expect(alice.stanza('iq', 'ping1')).toContain('type="result"');
      expect(alice.stanza('iq', 'ping2')).toContain('type="result"');
    });

    it('Redis restarted empty: the node re-registers its live sessions, and a message to a connected user is delivered, not stored offline', async () => {
      const { redis, login } = await setup();
      const alice = await login('alice', 'a');
      const bob = await login('bob', 'b');
      bob.send('<presence><priority>3</priority></presence>');
      await bob.waitFor((t) => t.includes('<presence'));
      await redis.restart(); // no persistence: it comes back empty
      const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      cleanup.push(() => probe.disconnect());
      await probe.connect();
      await eventually(
        "bob's session re-registered in the emptied Redis",
        () => probe.hlen(`${PREFIX}:bob@localhost`),
        (n) => n > 0,
      );
      const row = Object.values(await probe.hgetall(`${PREFIX}:bob@localhost`))[0]!;
      expect(JSON.parse(row)[9]).toBe(3); // re-registered with its priority
      alice.send("<message to='bob@localhost' type='chat' id='after'><body>are you there?</body></message>");
      await bob.waitFor((t) => t.includes('id="after"'));
      expect(alice.stanza('message', 'after')).toBeUndefined(); // no error bounced back
    });

    it('Redis frozen (SIGSTOP): a login fails fast with an error, pings are answered, and SIGINT ends the server with system-shutdown', async () => {
      const { redis, server, login } = await setup();
      const alice = await login('alice', 'a');
      alice.send('<presence/>');
      await alice.waitFor((t) => t.includes('<presence'));
      redis.pause();
      cleanup.push(() => redis.resume());
      const bob = await login('bob', 'b'); // SASL needs no Redis (memory accounts); bind does
      expect(bob.jid).toBe('');
      expect(bob.text).toMatch(/<iq[^>]*type="error"[^>]*id="bind"[\s\S]*<internal-server-error/);
      alice.send("<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      await alice.waitFor((t) => /<iq[^>]*id="ping"/.test(t));
      server.child.kill('SIGINT');
      await alice.waitFor((t) => t.includes('<system-shutdown'));
      expect(await exitOf(server.child)).toBe(0);
      expect(server.output()).toContain('stopped.');
    });
  },
);
