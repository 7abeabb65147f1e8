import { connect, type Socket } from 'node:net';
import { RedisBackend } from '@otp-chat/redis-backend';
import {
  canRunRedisTests,
  startTestRedis,
  type TestRedis,
  uniquePrefix,
} from '@otp-chat/redis-backend/testing';
import { type Backend, IqDecodeError } from '@otp-chat/session-manager';
import xml, { type Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClientTransport, connectClient, type TestClient } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';
import { testCertificate } from './support/tls.ts';

/** The transports the suite runs over: the same tests, the same client, one server per test. */
type Transport = 'tcp' | 'starttls' | 'tls' | 'websocket' | 'websocket-tls';
type BackendCase = [name: string, transport: Transport, factory: () => () => Backend];

let redis: TestRedis | undefined;
const redisOk = canRunRedisTests('@otp-chat/xmpp real-client suite on Redis');
// Both variants are always registered: without Redis the Redis one is skipped and counted as
// skipped (canRunRedisTests has said why, loudly; REQUIRE_REDIS=1 makes it a failure).
const memory = () => () => undefined as unknown as Backend;
const cases: BackendCase[] = [
  ['memory', 'tcp', memory],
  ['memory', 'starttls', memory],
  ['memory', 'tls', memory],
  ['memory', 'websocket', memory],
  ['memory', 'websocket-tls', memory],
  ['redis', 'tcp', () => () => new RedisBackend({ url: redis!.url, prefix: uniquePrefix('xmpp') })],
];

/** The server options that open `transport` (`@xmpp/client` takes STARTTLS whenever it is offered). */
async function transportOptions(transport: Transport): Promise<Parameters<typeof startServer>[0]> {
  switch (transport) {
    case 'tcp':
      return {};
    case 'starttls':
      return { tls: await testCertificate() };
    case 'tls':
      return { tls: await testCertificate(), directTlsPort: 0 };
    case 'websocket':
      return { websocketPort: 0 };
    case 'websocket-tls':
      return { tls: await testCertificate(), websocketSecurePort: 0 };
  }
}

/** How `@xmpp/client` reaches `transport` on `server`. */
function clientEndpoint(
  transport: Transport,
  server: XmppServer,
): { transport: ClientTransport; port: number } {
  const a = server.addresses;
  switch (transport) {
    case 'tcp':
    case 'starttls':
      return { transport: 'xmpp', port: a.tcp.port };
    case 'tls':
      return { transport: 'xmpps', port: a.directTls!.port };
    case 'websocket':
      return { transport: 'ws', port: a.websocket!.port };
    case 'websocket-tls':
      return { transport: 'wss', port: a.websocketSecure!.port };
  }
}

beforeAll(async () => {
  if (redisOk) redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const body = (s: Element) => s.getChildText('body');
const isMsg = (text: string) => (s: Element) => s.is('message') && body(s) === text;

describe.each(cases)('XmppServer with @xmpp/client, %s backend, over %s', (name, transport, factory) => {
  const skip = name === 'redis' && !redisOk;
  describe.skipIf(skip)(skip ? 'skipped: no redis-server on PATH and no REDIS_URL' : 'real clients', () => {
    let server: XmppServer | undefined;
    let port = 0;
    /** Where the clients connect (`port` stays the TCP port, for raw sockets). */
    let endpoint: { transport: ClientTransport; port: number } = { transport: 'xmpp', port: 0 };
    const clients: TestClient[] = [];
    const raw: Socket[] = [];

    async function start(options: Parameters<typeof startServer>[0] = {}) {
      const backend = name === 'memory' ? undefined : factory();
      const s = await startServer({
        ...(await transportOptions(transport)),
        ...options,
        ...(backend === undefined ? {} : { backend }),
      });
      server = s.server;
      port = s.port;
      endpoint = clientEndpoint(transport, s.server);
      return s;
    }
    async function login(username: string, resource?: string, mechanism: 'PLAIN' | 'default' = 'PLAIN') {
      const c = await connectClient({
        ...endpoint,
        username,
        password: PASSWORD,
        mechanism,
        ...(resource === undefined ? {} : { resource }),
      });
      clients.push(c);
      return c;
    }
    async function available(c: TestClient, priority: number) {
      await c.send(xml('presence', {}, xml('priority', {}, String(priority))));
      // The echo of available presence to the sender's own full JID (RFC 6121 §4.2.2).
      await c.waitFor((s) => s.is('presence') && s.attrs.from === c.jid && s.attrs.to === c.jid);
    }
    /** Sends a marker to each full JID and waits for it: everything routed before it has arrived. */
    async function barrier(from: TestClient, to: readonly TestClient[]) {
      const tag = `barrier-${Math.random()}`;
      for (const c of to) await from.send(xml('message', { to: c.jid, type: 'chat' }, xml('body', {}, tag)));
      for (const c of to) await c.waitFor(isMsg(tag));
    }

    afterEach(async () => {
      for (const c of clients.splice(0)) await c.stop();
      for (const s of raw.splice(0)) s.destroy();
      await server?.stop();
      server = undefined;
    });

    it('two clients log in (SCRAM-SHA-1 by default, and PLAIN) and exchange messages', async () => {
      await start();
      const alice = await login('alice', 'laptop', 'default');
      const bob = await login('bob', 'phone');
      expect(alice.jid).toBe('alice@localhost/laptop');
      expect(bob.jid).toBe('bob@localhost/phone');
      await alice.send(xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, 'hi bob')));
      const got = await bob.waitFor(isMsg('hi bob'));
      expect(got.attrs.from).toBe(alice.jid);
      await bob.send(xml('message', { to: alice.jid, type: 'chat' }, xml('body', {}, 'hi alice')));
      expect((await alice.waitFor(isMsg('hi alice'))).attrs.from).toBe(bob.jid);
    });

    it('bind without a resource gets a generated one', async () => {
      await start();
      const c = await login('carol');
      expect(c.jid).toMatch(/^carol@localhost\/.+/);
    });

    it('a bare-JID message reaches exactly the highest non-negative priority resources (ejabberd_sm:route_message/1)', async () => {
      await start();
      const a = await login('alice', 'a');
      const b = await login('alice', 'b');
      const c = await login('alice', 'c');
      const d = await login('alice', 'd');
      await available(a, 5);
      await available(b, 5);
      await available(c, 1);
      await available(d, -1);
      const bob = await login('bob', 'x');
      await bob.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'to bare')));
      await bob.send(
        xml('message', { to: 'alice@localhost', type: 'normal' }, xml('body', {}, 'normal bare')),
      );
      await barrier(bob, [a, b, c, d]);
      const got = (cl: TestClient) =>
        cl.stanzas.filter((s) => body(s) === 'to bare' || body(s) === 'normal bare').length;
      expect([got(a), got(b), got(c), got(d)]).toEqual([2, 2, 0, 0]);
    });

    it('a message to a missing resource falls back to bare-JID routing; headline is dropped (ejabberd_sm:do_route/1)', async () => {
      await start();
      const a = await login('alice', 'a');
      const c = await login('alice', 'c');
      await available(a, 5);
      await available(c, 1);
      const bob = await login('bob', 'x');
      await bob.send(
        xml('message', { to: 'alice@localhost/gone', type: 'chat' }, xml('body', {}, 'fallback')),
      );
      await bob.send(
        xml('message', { to: 'alice@localhost/gone', type: 'headline' }, xml('body', {}, 'news')),
      );
      await barrier(bob, [a, c]);
      expect(a.stanzas.filter(isMsg('fallback'))).toHaveLength(1);
      expect(c.stanzas.filter(isMsg('fallback'))).toHaveLength(0);
      expect([...a.stanzas, ...c.stanzas].filter(isMsg('news'))).toHaveLength(0);
      expect(bob.stanzas.filter((s) => s.attrs.type === 'error')).toHaveLength(0);
    });

    it('a second login with the same full JID kicks the first with conflict (ejabberd_sm:check_existing_resources/4, c2s_handle_info/2)', async () => {
      await start();
      const first = await login('alice', 'same');
      const second = await login('alice', 'same');
      await first.offline;
      expect(first.streamErrors).toEqual([{ condition: 'conflict', text: 'Replaced by new connection' }]);
      const bob = await login('bob', 'x');
      await bob.send(
        xml('message', { to: 'alice@localhost/same', type: 'chat' }, xml('body', {}, 'still there?')),
      );
      await second.waitFor(isMsg('still there?'));
      expect(await server!.sm.userResources('alice', 'localhost')).toEqual(['same']);
    });

    it('the 11th session with maxUserSessions 10 kicks the oldest (ejabberd_sm:check_max_sessions/2)', async () => {
      await start({ maxUserSessions: 10 });
      const sessions: TestClient[] = [];
      for (let i = 0; i < 11; i++) sessions.push(await login('alice', `m${i}`));
      await sessions[0]!.offline;
      expect(sessions[0]!.streamErrors).toEqual([
        { condition: 'conflict', text: 'Replaced by new connection' },
      ]);
      const left = await server!.sm.userResources('alice', 'localhost');
      expect(left.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`).sort());
      for (const s of sessions.slice(1)) expect(s.streamErrors).toEqual([]);
    });

    it('XEP-0199: ping to the server and to a bare JID (online or not) is answered', async () => {
      await start();
      const alice = await login('alice', 'p');
      const toServer = await alice.xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
        5000,
      );
      expect(toServer.attrs.type).toBe('result');
      const toBare = await alice.xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: 'bob@localhost' }, xml('ping', 'urn:xmpp:ping')),
        5000,
      );
      expect(toBare.attrs.type).toBe('result');
      expect(toBare.attrs.from).toBe('bob@localhost');
    });

    it('IQs to the host and to a bare JID go through one dispatcher: the same answers and texts', async () => {
      const { server: s } = await start();
      const NS_Q = 'urn:example:q';
      const handler = (q: Element): Element => {
        const child = q.getChildElements()[0]!;
        if (child.attrs.kind === 'decode') throw new IqDecodeError(NS_Q, 'Malformed query');
        if (child.attrs.kind === 'crash') throw new Error('boom');
        return xml('iq', { type: 'result', id: q.attrs.id, to: q.attrs.from, from: q.attrs.to });
      };
      s.registerLocalIqHandler('localhost', NS_Q, handler);
      s.sm.registerIqHandler('localhost', NS_Q, handler);
      const alice = await login('alice', 'iq');
      const ask = async (to: string, id: string, ...children: Element[]) => {
        await alice.send(xml('iq', { type: 'get', to, id }, ...children));
        const r = await alice.waitFor((st) => st.is('iq') && st.attrs.id === id);
        const error = r.getChild('error');
        const condition = error?.getChildElements().find((c) => c.name !== 'text')?.name ?? '';
        return [r.attrs.type, condition, error?.getChildText('text') ?? ''];
      };
      for (const to of ['localhost', 'bob@localhost']) {
        const answers = [
          await ask(to, `${to}-ok`, xml('q', { xmlns: NS_Q })),
          await ask(to, `${to}-none`),
          await ask(to, `${to}-two`, xml('q', { xmlns: NS_Q }), xml('q', { xmlns: NS_Q })),
          await ask(to, `${to}-unknown`, xml('q', { xmlns: 'urn:example:nobody' })),
          await ask(to, `${to}-decode`, xml('q', { xmlns: NS_Q, kind: 'decode' })),
          await ask(to, `${to}-crash`, xml('q', { xmlns: NS_Q, kind: 'crash' })),
        ];
        expect(answers, to).toEqual([
          ['result', '', ''],
          ['error', 'bad-request', 'No child elements found'],
          ['error', 'bad-request', 'Too many child elements'],
          ['error', 'service-unavailable', 'No module is handling this query'],
          ['error', 'bad-request', 'Malformed query'],
          ['error', 'internal-server-error', 'Module failed to handle the query'],
        ]);
      }
    });

    it('an IQ to a missing full JID gets service-unavailable (ejabberd_sm:do_route/1)', async () => {
      await start();
      const alice = await login('alice', 'q');
      await alice.send(
        xml('iq', { type: 'get', to: 'bob@localhost/nowhere', id: 'q1' }, xml('ping', 'urn:xmpp:ping')),
      );
      const err = await alice.waitFor((s) => s.is('iq') && s.attrs.id === 'q1');
      expect(err.attrs.type).toBe('error');
      expect(err.getChild('error')?.getChild('service-unavailable')).toBeDefined();
    });

    it('a message to an unknown user bounces with service-unavailable (ejabberd_sm:route_message/1)', async () => {
      await start();
      const alice = await login('alice', 'r');
      await alice.send(
        xml('message', { to: 'nobody@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'hello?')),
      );
      const err = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'm1');
      expect(err.attrs.type).toBe('error');
      expect(err.attrs.from).toBe('nobody@localhost');
      expect(err.getChild('error')?.getChild('service-unavailable')).toBeDefined();
    });

    it('a message to an offline user is stored and delivered after initial presence, not at bind', async () => {
      await start();
      const alice = await login('alice', 's');
      await alice.send(
        xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'while you were out')),
      );
      await alice.send(xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'second')));
      await barrier(alice, [alice]);
      expect(alice.stanzas.filter((s) => s.attrs.type === 'error')).toHaveLength(0);
      const dave = await login('dave', 'home');
      await barrier(alice, [dave]);
      expect(dave.stanzas.filter(isMsg('while you were out'))).toHaveLength(0);
      await dave.send(xml('presence'));
      const first = await dave.waitFor(isMsg('while you were out'));
      await dave.waitFor(isMsg('second'));
      expect(first.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    });

    it('garbage bytes on one connection end that connection only (not-well-formed); others keep working', async () => {
      await start();
      const alice = await login('alice', 'g');
      const bob = await login('bob', 'g');
      const socket = connect(port, '127.0.0.1');
      raw.push(socket);
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      socket.write(
        "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
      );
      socket.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x3c, 0x2f, 0x78, 0x3e]));
      await closed;
      expect(Buffer.concat(received).toString()).toContain('<not-well-formed');
      await alice.send(xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, 'after garbage')));
      await bob.waitFor(isMsg('after garbage'));
    });

    const PAYLOADS: Record<string, string> = {
      'a stanza before auth': "<message to='bob@localhost'><body>x</body></message>",
      'an oversized stanza (300 kB > 256 KiB)': `<message><body>${'x'.repeat(300_000)}</body></message>`,
      'mismatched tags': '<message></iq>',
    };
    it.each([
      ['a stanza before auth', 'not-authorized'],
      ['an oversized stanza (300 kB > 256 KiB)', 'policy-violation'],
      ['mismatched tags', 'not-well-formed'],
    ])('%s ends that connection with %s; another client is unaffected', async (what, condition) => {
      const payload = PAYLOADS[what]!;
      await start();
      const bob = await login('bob', 'w');
      const socket = connect(port, '127.0.0.1');
      raw.push(socket);
      const received: Buffer[] = [];
      socket.on('data', (d) => received.push(d));
      socket.on('error', () => {});
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      socket.write(
        "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
      );
      socket.write(payload);
      await closed;
      expect(Buffer.concat(received).toString()).toContain(
        `<${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`,
      );
      await bob.xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
        5000,
      );
    });

    it('kick_user: policy-violation "has been kicked" (ejabberd_sm:c2s_handle_info/2)', async () => {
      await start();
      const alice = await login('alice', 'k');
      await server!.sm.kickUser('alice', 'localhost');
      await alice.offline;
      expect(alice.streamErrors).toEqual([{ condition: 'policy-violation', text: 'has been kicked' }]);
      expect(await server!.sm.userResources('alice', 'localhost')).toEqual([]);
    });

    it('unregister: {exit, "User removed"} → conflict with that text', async () => {
      await start();
      const erin = await login('erin', 'e');
      await server!.commands.execute('unregister', { user: 'erin', host: 'localhost' }, { kind: 'local' });
      await erin.offline;
      expect(erin.streamErrors).toEqual([{ condition: 'conflict', text: 'User removed' }]);
      if (refusalsOverThisClient) {
        await expect(login('erin', 'again')).rejects.toMatchObject({
          name: 'SASLError',
          condition: 'not-authorized',
        });
      }
    });

    it('an access rule that denies: forbidden_session_hook runs and bind fails with not-allowed (ejabberd_c2s:bind/2)', async () => {
      const { server: s } = await start({ access: (j) => (j.luser === 'carol' ? 'deny' : 'allow') });
      const forbidden: string[] = [];
      s.hooks.add('forbidden_session_hook', 'localhost', (j) => void forbidden.push(j.toString()), 50);
      await expect(login('carol', 'x')).rejects.toMatchObject({
        name: 'StanzaError',
        condition: 'not-allowed',
      });
      expect(forbidden).toEqual(['carol@localhost/x']);
      expect(await s.sm.userResources('carol', 'localhost')).toEqual([]);
    });

    // @xmpp/client 0.14 over TLS (STARTTLS, direct TLS) sometimes leaves a promise of a refused
    // login rejected with nobody to handle it, about a second later: vitest then fails the run with
    // an unhandled rejection though every assertion held. The refusal is transport-independent
    // (the c2s machine decides it before any transport matters): it is checked over the clear
    // transports here, and over TLS by transports.test.ts's own SCRAM clients.
    const refusalsOverThisClient = transport === 'tcp' || transport === 'websocket';

    it.runIf(refusalsOverThisClient)('a wrong password fails SASL and opens no session', async () => {
      await start();
      const refused = { name: 'SASLError', condition: 'not-authorized' };
      await expect(
        connectClient({ ...endpoint, username: 'alice', password: 'wrong' }),
      ).rejects.toMatchObject(refused);
      await expect(
        connectClient({ ...endpoint, username: 'alice', password: 'wrong', mechanism: 'default' }),
      ).rejects.toMatchObject(refused);
      expect(await server!.sm.connectedUsersNumber()).toBe(0);
    });

    it('closing the stream closes the session; stopping the server sends system-shutdown', async () => {
      await start();
      const alice = await login('alice', 'c1');
      const bob = await login('bob', 'c2');
      expect(await server!.sm.connectedUsersNumber()).toBe(2);
      await alice.stop();
      await alice.offline;
      // closeSession runs before the actor exits; bob's ping round trip orders us after it.
      await bob.xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
        5000,
      );
      expect(await server!.sm.userResources('alice', 'localhost')).toEqual([]);
      await server!.stop();
      server = undefined;
      await bob.offline;
      expect(bob.streamErrors).toEqual([{ condition: 'system-shutdown', text: undefined }]);
    });
  });
});
