// The transports under one connection actor: STARTTLS (RFC 6120 §5), direct TLS (XEP-0368) and
// WebSocket (RFC 7395), each against real sockets; what a misbehaving peer does to one of them
// ends that connection alone; a certificate reload under traffic drops nobody.
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { XmppConfigError } from '../src/errors.ts';
import { selfSignedCertificate } from '../src/selfSignedCertificate.ts';
import type { PemPair } from '../src/TlsCredentials.ts';
import {
  connectClient,
  RawClient,
  streamOpen,
  type TestClient,
  trustCertificate,
} from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { ScramClient } from './support/scramClient.ts';
import { PASSWORD, startServer } from './support/server.ts';
import { testCertificate } from './support/tls.ts';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const b64 = (s: string) => Buffer.from(s).toString('base64');

let server: XmppServer | undefined;
const clients: TestClient[] = [];
const raws: RawClient[] = [];
const sockets: Array<{ destroy(): void }> = [];
const sockets2: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  // TLS sockets before the plain ones under them (the other order segfaults Node 20).
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of raws.splice(0).reverse()) r.destroy();
  for (const w of sockets2.splice(0)) w.terminate();
  await server?.stop();
  server = undefined;
});

async function start(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer({ tls: await testCertificate(), allowPlainWithoutTls: false, ...options });
  server = s.server;
  return s.server;
}

async function raw(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  raws.push(c);
  return c;
}

/** A TLS client socket to `port` that trusts `ca`, once the handshake is done. */
async function tlsTo(
  options: { port: number } | { socket: Socket },
  ca: string | string[],
): Promise<TLSSocket> {
  const secure = tlsConnect({ ...options, host: '127.0.0.1', servername: 'localhost', ca });
  sockets.push(secure);
  await once(secure, 'secureConnect');
  return secure;
}

/** Opens a stream and waits for its features. */
async function features(c: RawClient): Promise<string> {
  const from = c.text.length;
  c.write(streamOpen());
  await c.waitFor((t) => t.indexOf('</stream:features>', from) >= 0);
  return c.text.slice(from);
}

/** STARTTLS by hand: `<starttls/>`, `<proceed/>`, the handshake, then a raw client over TLS. */
async function startTls(port: number, ca: string): Promise<{ plain: RawClient; secure: RawClient }> {
  const plain = await raw(port);
  await features(plain);
  plain.write(`<starttls xmlns='${NS_TLS}'/>`);
  await plain.waitFor((t) => t.includes('<proceed'));
  const socket = await tlsTo({ socket: plain.socket }, ca);
  const secure = RawClient.over(socket as unknown as Socket);
  raws.push(secure);
  return { plain, secure };
}

function mechanisms(featuresText: string): string[] {
  return [...featuresText.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
}

/** A SCRAM exchange over a raw stream: `'success'` or the failure condition. */
async function scram(c: RawClient, mechanism: string, client: ScramClient): Promise<string> {
  const from = c.text.length;
  c.write(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${b64(client.first)}</auth>`);
  await c.waitFor((t) => /<\/challenge>|<\/failure>|<failure[^>]*\/>/.test(t.slice(from)));
  const challenge = /<challenge[^>]*>([^<]*)<\/challenge>/.exec(c.text.slice(from));
  if (challenge === null) return /<failure[^>]*><([a-z-]+)/.exec(c.text.slice(from))?.[1] ?? 'failure';
  const next = c.text.length;
  c.write(
    `<response xmlns='${NS_SASL}'>${b64(client.final(Buffer.from(challenge[1]!, 'base64').toString()))}</response>`,
  );
  await c.waitFor((t) => /<success|<\/failure>/.test(t.slice(next)));
  const success = /<success[^>]*>([^<]*)<\/success>/.exec(c.text.slice(next));
  if (success === null) return /<failure[^>]*><([a-z-]+)/.exec(c.text.slice(next))?.[1] ?? 'failure';
  return client.verify(Buffer.from(success[1]!, 'base64').toString()) ? 'success' : 'bad-server-signature';
}

async function login(options: Omit<Parameters<typeof connectClient>[0], 'password'>): Promise<TestClient> {
  const c = await connectClient({ password: PASSWORD, ...options });
  clients.push(c);
  return c;
}

/** A ping round trip: the client's stream still works. */
async function alive(c: TestClient): Promise<void> {
  const pong = await c.xmpp.iqCaller.request(
    xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
    5000,
  );
  expect(pong.attrs.type).toBe('result');
}

describe('STARTTLS (RFC 6120 §5)', () => {
  it('is offered with a certificate; @xmpp/client takes it, and the session says c2s_tls', async () => {
    const s = await start();
    const alice = await login({
      port: s.address.port,
      username: 'alice',
      resource: 'r',
      mechanism: 'default',
    });
    const info = await s.sm.getUserInfo('alice', 'localhost', 'r');
    expect(info !== 'offline' && info.info.conn).toBe('c2s_tls');
    await alive(alice);
  });

  it('before TLS: STARTTLS and SCRAM without -PLUS, no PLAIN; after: -PLUS, PLAIN and the channel bindings', async () => {
    const s = await start();
    const before = await features(await raw(s.address.port));
    expect(before).toContain(`<starttls xmlns='${NS_TLS}'/>`);
    expect(mechanisms(before)).toEqual(['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1']);
    const { secure } = await startTls(s.address.port, (await testCertificate()).cert);
    const after = await features(secure);
    expect(after).not.toContain('<starttls');
    expect(mechanisms(after)).toEqual([
      'SCRAM-SHA-512-PLUS',
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-512',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
    expect(after).toContain(
      "<channel-binding type='tls-exporter'/><channel-binding type='tls-server-end-point'/>",
    );
  });

  it('PLAIN over plain TCP is refused as a mechanism not offered (invalid-mechanism)', async () => {
    const s = await start();
    const c = await raw(s.address.port);
    await features(c);
    c.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0alice\0secret')}</auth>`);
    await c.waitFor((t) => t.includes('<invalid-mechanism/>'));
  });

  it('starttlsRequired: only STARTTLS is offered, SASL gets encryption-required, a stanza ends the stream', async () => {
    const s = await start({ starttlsRequired: true });
    const c = await raw(s.address.port);
    const offered = await features(c);
    expect(offered).toContain(`<starttls xmlns='${NS_TLS}'><required/></starttls>`);
    expect(offered).not.toContain('<mechanisms');
    c.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${b64('n,,n=alice,r=abc')}</auth>`);
    await c.waitFor((t) => t.includes(`<failure xmlns='${NS_SASL}'><encryption-required/></failure>`));
    expect(c.isOpen).toBe(true);
    c.write("<message to='bob@localhost'><body>in the clear</body></message>");
    await c.waitFor((t) => t.includes('Use of STARTTLS required') && t.includes('</stream:stream>'));
    expect(c.text).toContain('<policy-violation');
    await c.closed;
    // After STARTTLS the same listener logs in.
    const { secure } = await startTls(s.address.port, (await testCertificate()).cert);
    await features(secure);
    expect(await scram(secure, 'SCRAM-SHA-256', new ScramClient('sha256', 'alice', PASSWORD, 'n1'))).toBe(
      'success',
    );
  });

  it('<starttls/> on an encrypted stream gets <failure/> and the stream closes (RFC 6120 §5.4.2.2)', async () => {
    const s = await start({ directTlsPort: 0 });
    const c = RawClient.over(
      (await tlsTo({ port: s.addresses.directTls!.port }, (await testCertificate()).cert)) as never,
    );
    raws.push(c);
    await features(c);
    c.write(`<starttls xmlns='${NS_TLS}'/>`);
    await c.waitFor((t) => t.includes(`<failure xmlns='${NS_TLS}'/>`) && t.includes('</stream:stream>'));
  });

  it('bytes sent after <starttls/> in the clear are dropped, not parsed over TLS', async () => {
    const s = await start();
    const c = await raw(s.address.port);
    await features(c);
    c.write(`<starttls xmlns='${NS_TLS}'/><message to='bob@localhost'><body>smuggled</body></message>`);
    await c.waitFor((t) => t.includes('<proceed'));
    const secure = RawClient.over(
      (await tlsTo({ socket: c.socket }, (await testCertificate()).cert)) as never,
    );
    raws.push(secure);
    const offered = await features(secure);
    expect(mechanisms(offered)).toContain('PLAIN');
  });
});

describe('SCRAM-SHA-256, SCRAM-SHA-512 and -PLUS over real TLS', () => {
  async function directTls(s: XmppServer): Promise<{ c: RawClient; socket: TLSSocket }> {
    const socket = await tlsTo({ port: s.addresses.directTls!.port }, (await testCertificate()).cert);
    const c = RawClient.over(socket as never);
    raws.push(c);
    await features(c);
    return { c, socket };
  }
  const endPoint = (socket: TLSSocket) =>
    createHash('sha256').update(socket.getPeerCertificate().raw).digest();
  const exporter = (socket: TLSSocket) =>
    socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));

  it.each([
    ['SCRAM-SHA-512', 'sha512', 'n,,', undefined],
    ['SCRAM-SHA-256', 'sha256', 'n,,', undefined],
    ['SCRAM-SHA-256-PLUS', 'sha256', 'p=tls-exporter,,', exporter],
    ['SCRAM-SHA-512-PLUS', 'sha512', 'p=tls-server-end-point,,', endPoint],
    ['SCRAM-SHA-1-PLUS', 'sha1', 'p=tls-server-end-point,,', endPoint],
  ] as const)('%s with %s logs in', async (mechanism, hash, gs2, data) => {
    const s = await start({ directTlsPort: 0 });
    const { c, socket } = await directTls(s);
    const client = new ScramClient(hash, 'alice', PASSWORD, 'cnonce', gs2, data?.(socket) ?? Buffer.alloc(0));
    expect(await scram(c, mechanism, client)).toBe('success');
  });

  it('a channel-binding mismatch (a man in the middle terminating TLS) is refused', async () => {
    const s = await start({ directTlsPort: 0 });
    const { c } = await directTls(s);
    const other = createHash('sha256').update('a certificate the client saw elsewhere').digest();
    const client = new ScramClient('sha256', 'alice', PASSWORD, 'cnonce', 'p=tls-server-end-point,,', other);
    expect(await scram(c, 'SCRAM-SHA-256-PLUS', client)).toBe('not-authorized');
  });

  it('y (the client believes the server cannot bind) where -PLUS is offered is refused: a downgrade', async () => {
    const s = await start({ directTlsPort: 0 });
    const { c } = await directTls(s);
    expect(await scram(c, 'SCRAM-SHA-256', new ScramClient('sha256', 'alice', PASSWORD, 'x', 'y,,'))).toBe(
      'not-authorized',
    );
  });
});

describe('one bad peer ends its own connection only', () => {
  it('a TLS handshake of garbage on the direct TLS port', async () => {
    const s = await start({ directTlsPort: 0 });
    const alice = await login({ transport: 'xmpps', port: s.addresses.directTls!.port, username: 'alice' });
    const c = await raw(s.addresses.directTls!.port);
    c.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await c.closed;
    await alive(alice);
  });

  it('a client that stops in the middle of the handshake (direct TLS, and after <proceed/>)', async () => {
    const s = await start({ directTlsPort: 0, negotiationTimeoutMs: 300 });
    const alice = await login({ transport: 'xmpps', port: s.addresses.directTls!.port, username: 'alice' });
    // A TLS record header announcing a ClientHello that never comes.
    const direct = await raw(s.addresses.directTls!.port);
    direct.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const starttls = await raw(s.address.port);
    await features(starttls);
    starttls.write(`<starttls xmlns='${NS_TLS}'/>`);
    await starttls.waitFor((t) => t.includes('<proceed'));
    await Promise.all([direct.closed, starttls.closed]);
    await alive(alice);
  });

  /** A WebSocket to the server's ws endpoint, open. */
  async function ws(s: XmppServer, protocol: string | undefined = 'xmpp'): Promise<WebSocket> {
    const w = new WebSocket(`ws://127.0.0.1:${s.addresses.websocket!.port}/xmpp-websocket`, protocol);
    sockets2.push(w);
    await once(w, 'open');
    return w;
  }

  it('a WebSocket text frame of 10 MB', async () => {
    const s = await start({ websocketPort: 0 });
    const alice = await login({
      transport: 'ws',
      port: s.addresses.websocket!.port,
      username: 'alice',
      mechanism: 'default',
    });
    const w = await ws(s);
    w.send(`<message>${'a'.repeat(10 * 1024 * 1024)}</message>`);
    const [code] = (await once(w, 'close')) as [number];
    expect(code).toBe(1009); // message too big (RFC 6455 §7.4.1)
    await alive(alice);
  });

  it('a WebSocket binary frame', async () => {
    const s = await start({ websocketPort: 0 });
    const alice = await login({
      transport: 'ws',
      port: s.addresses.websocket!.port,
      username: 'alice',
      mechanism: 'default',
    });
    const w = await ws(s);
    w.send(Buffer.from(`<open xmlns='${NS_FRAMING}' to='localhost' version='1.0'/>`));
    const [code] = (await once(w, 'close')) as [number];
    expect(code).toBe(1003);
    await alive(alice);
  });

  it('a WebSocket without the xmpp subprotocol is refused at the upgrade', async () => {
    const s = await start({ websocketPort: 0 });
    const w = new WebSocket(`ws://127.0.0.1:${s.addresses.websocket!.port}/xmpp-websocket`);
    w.on('error', () => {});
    sockets2.push(w);
    const [, response] = (await once(w, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(400);
  });
});

describe('RFC 7395 framing', () => {
  it('<open/> and <close/>, one element per message, namespaces declared in each', async () => {
    const s = await start({ websocketPort: 0 });
    const w = new WebSocket(`ws://127.0.0.1:${s.addresses.websocket!.port}/xmpp-websocket`, 'xmpp');
    sockets2.push(w);
    await once(w, 'open');
    expect(w.protocol).toBe('xmpp');
    const messages: string[] = [];
    w.on('message', (data) => messages.push(String(data)));
    w.send(`<open xmlns='${NS_FRAMING}' to='localhost' version='1.0'/>`);
    await expect.poll(() => messages.length).toBeGreaterThanOrEqual(2);
    expect(messages[0]).toMatch(
      new RegExp(`^<open xmlns='${NS_FRAMING}' id='[^']+' from='localhost' version='1.0' xml:lang='en'/>$`),
    );
    expect(messages[1]).toMatch(
      /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>.*<\/stream:features>$/,
    );
    w.send(`<close xmlns='${NS_FRAMING}'/>`);
    const [code] = (await once(w, 'close')) as [number];
    expect(messages.at(-1)).toBe(`<close xmlns='${NS_FRAMING}'/>`);
    expect(code).toBe(1000);
  });

  it('a stream error is its own message with its namespace, then <close/>', async () => {
    const s = await start({ websocketPort: 0 });
    const w = new WebSocket(`ws://127.0.0.1:${s.addresses.websocket!.port}/xmpp-websocket`, 'xmpp');
    sockets2.push(w);
    await once(w, 'open');
    const messages: string[] = [];
    w.on('message', (data) => messages.push(String(data)));
    w.send(`<open xmlns='${NS_FRAMING}' to='elsewhere.example' version='1.0'/>`);
    await once(w, 'close');
    expect(messages.slice(1)).toEqual([
      "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
      `<close xmlns='${NS_FRAMING}'/>`,
    ]);
  });
});

describe('certificates', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const write = (d: string, pem: PemPair) => {
    writeFileSync(join(d, 'cert.pem'), pem.cert);
    writeFileSync(join(d, 'key.pem'), pem.key);
  };

  it('a reload under traffic serves the new certificate to new handshakes and drops nobody', async () => {
    dir = mkdtempSync(join(tmpdir(), 'otp-chat-tls-'));
    const first = await testCertificate();
    const second = await selfSignedCertificate('localhost');
    trustCertificate(second.cert);
    write(dir, first);
    const s = await start({
      tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
      directTlsPort: 0,
      websocketSecurePort: 0,
    });
    const port = s.addresses.directTls!.port;
    const alice = await login({ transport: 'xmpps', port, username: 'alice', resource: 'a' });
    const bob = await login({
      transport: 'wss',
      port: s.addresses.websocketSecure!.port,
      username: 'bob',
      resource: 'b',
    });
    const carol = await login({ port: s.address.port, username: 'carol', resource: 'c' }); // STARTTLS
    const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
    const peer = async () => {
      const socket = await tlsTo({ port }, [first.cert, second.cert]);
      const f = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      return f;
    };
    expect(await peer()).toBe(fingerprint(first.cert));
    // Traffic in flight while the certificate changes.
    const total = 200;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        await alice.send(xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, `m${i}`)));
        await carol.send(xml('message', { to: alice.jid, type: 'chat' }, xml('body', {}, `c${i}`)));
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    write(dir, second);
    s.reloadCertificates();
    await sending;
    await bob.waitFor((st) => st.getChildText('body') === `m${total - 1}`);
    await alice.waitFor((st) => st.getChildText('body') === `c${total - 1}`);
    expect(bob.stanzas.filter((st) => st.getChildText('body')?.startsWith('m')).length).toBe(total);
    expect(s.tls?.fingerprint256).toBe(fingerprint(second.cert));
    expect(await peer()).toBe(fingerprint(second.cert));
    for (const c of [alice, bob, carol]) expect(c.streamErrors).toEqual([]);
    // A file that does not load keeps the certificate in force.
    writeFileSync(join(dir, 'cert.pem'), 'not a certificate');
    expect(() => s.reloadCertificates()).toThrow(XmppConfigError);
    expect(await peer()).toBe(fingerprint(second.cert));
    const dave = await login({ transport: 'xmpps', port, username: 'dave' });
    await alive(dave);
  });

  it("a virtual host gets its own certificate: by SNI, and at STARTTLS by the stream's domain", async () => {
    const other = await selfSignedCertificate('chat.example');
    const s = await start({
      hosts: ['localhost', 'chat.example'],
      directTlsPort: 0,
      hostCertificates: { 'chat.example': other },
    });
    const subject = (socket: TLSSocket) => socket.getPeerCertificate().subject.CN;
    const port = s.addresses.directTls!.port;
    const sni = tlsConnect({ port, host: '127.0.0.1', servername: 'chat.example', ca: other.cert });
    sockets.push(sni);
    await once(sni, 'secureConnect');
    expect(subject(sni)).toBe('chat.example');
    expect(subject(await tlsTo({ port }, (await testCertificate()).cert))).toBe('localhost');
    // STARTTLS without SNI (as @xmpp/client): the stream was opened to chat.example.
    const plain = await raw(s.address.port);
    plain.write(streamOpen('chat.example'));
    await plain.waitFor((t) => t.includes('</stream:features>'));
    plain.write(`<starttls xmlns='${NS_TLS}'/>`);
    await plain.waitFor((t) => t.includes('<proceed'));
    const upgraded = tlsConnect({
      socket: plain.socket,
      ca: other.cert,
      checkServerIdentity: () => undefined,
    });
    sockets.push(upgraded);
    await once(upgraded, 'secureConnect');
    expect(subject(upgraded)).toBe('chat.example');
  });

  it('direct TLS, wss and starttlsRequired without a certificate are configuration errors', async () => {
    for (const bad of [{ directTlsPort: 0 }, { websocketSecurePort: 0 }, { starttlsRequired: true }]) {
      await expect(startServer({ ...bad })).rejects.toBeInstanceOf(XmppConfigError);
    }
  });
});
