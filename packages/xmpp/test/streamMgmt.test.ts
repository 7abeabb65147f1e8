// XEP-0198 stream management with a raw client (it has to drop its TCP connection at a chosen
// point and count what it received): acks, an `h` too big, resumption after a dropped connection
// with every stanza delivered once and in order, and a session not resumed in time whose
// unacknowledged stanzas go to offline storage.
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamMgmt } from '../src/internal/StreamMgmt.ts';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { modOffline } from '../src/modOffline.ts';
import { modPing } from '../src/modPing.ts';
import { connectClient, plainAuth, RawClient, streamOpen, type TestClient } from '../src/testing/index.ts';
import { client } from '../src/testing/xmppClient.ts';
import { XmppServer } from '../src/XmppServer.ts';

const NS = 'urn:xmpp:sm:3';
let server: XmppServer | undefined;
const raws: RawClient[] = [];
const clients: TestClient[] = [];
let offline: ReturnType<typeof modOffline>;

async function start(resumeTimeoutMs = 5000): Promise<number> {
  const users = new MemoryUserStore();
  for (const u of ['alice', 'bob']) await users.register(u, 'localhost', 'secret');
  offline = modOffline();
  server = await XmppServer.start({
    system: new ActorSystem({ logger: silentLogger }),
    port: 0,
    users,
    logger: silentLogger,
    streamManagement: true,
    resumeTimeoutMs,
    modules: [modPing(), offline],
    // The clients log in with PLAIN over plain TCP (loopback, no TLS configured).
    allowPlainWithoutTls: true,
  });
  return server.address.port;
}

afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  for (const c of clients.splice(0)) await c.stop().catch(() => {});
  await server?.stop();
  server = undefined;
});

const bodies = (text: string) => [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((m) => m[1]!);

/** alice over a raw socket: logged in, bound to `r`, SM enabled with resumption, available. */
async function aliceManaged(port: number): Promise<{ c: RawClient; id: string }> {
  const c = await RawClient.login(port, 'alice', 'secret', 'r');
  raws.push(c);
  expect(c.text).toContain(`<sm xmlns='${NS}'/>`);
  c.write(`<enable xmlns='${NS}' resume='true'/>`);
  await c.waitFor((t) => t.includes('<enabled'));
  const id = /<enabled [^>]*id='([^']+)'/.exec(c.text)![1]!;
  c.write('<presence/>');
  await c.waitFor((t) => t.includes('<presence'));
  return { c, id };
}

describe('XEP-0198', () => {
  it('acks: <r/> is answered with what was handled; the server asks for acks; an h above what was sent ends the stream', async () => {
    const port = await start();
    const { c } = await aliceManaged(port);
    c.write(`<r xmlns='${NS}'/>`);
    // Handled so far: the presence.
    await c.waitFor((t) => t.includes(`<a xmlns='${NS}' h='1'/>`));
    // The presence echo went out with a request for an ack.
    expect(c.text).toContain(`<r xmlns='${NS}'/>`);
    c.write(`<a xmlns='${NS}' h='1'/>`);
    c.write(`<a xmlns='${NS}' h='7'/>`);
    await c.waitFor((t) => t.includes('</stream:stream>'));
    expect(c.text).toContain('<undefined-condition');
    expect(c.text).toContain('h attribute too big');
  });

  it('resumption after a dropped TCP connection: same full JID, every stanza delivered once, in order', async () => {
    const port = await start();
    const { c, id } = await aliceManaged(port);
    const bob = await connectClient({ port, username: 'bob', password: 'secret', resource: 'b' });
    clients.push(bob);
    for (const n of [1, 2, 3])
      await bob.send(xml('message', { to: 'alice@localhost/r', type: 'chat' }, xml('body', {}, `m${n}`)));
    await c.waitFor((t) => bodies(t).length === 3);
    // alice acknowledges the presence echo and m1 only, then her connection drops.
    c.write(`<a xmlns='${NS}' h='2'/>`);
    await new Promise((r) => setTimeout(r, 50));
    c.destroy();
    await eventually(
      'the session waits for a resumption',
      () => server!.sm.userResources('alice', 'localhost'),
      (r) => r.length === 1,
    );
    for (const n of [4, 5])
      await bob.send(xml('message', { to: 'alice@localhost/r', type: 'chat' }, xml('body', {}, `m${n}`)));
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'm6')));
    // A new connection: SASL, then <resume/> in place of the bind.
    const again = await RawClient.connect(port);
    raws.push(again);
    again.write(streamOpen() + plainAuth('alice', 'secret'));
    await again.waitFor((t) => t.includes('<success'));
    again.write(`${streamOpen()}<resume xmlns='${NS}' previd='${id}' h='2'/>`);
    await again.waitFor((t) => bodies(t).length >= 5);
    await new Promise((r) => setTimeout(r, 200));
    expect(again.text).toMatch(/<resumed xmlns='urn:xmpp:sm:3' previd='[^']+' h='1'\/>/);
    expect(bodies(again.text)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(await server!.sm.userResources('alice', 'localhost')).toEqual(['r']);
    // The resumed stream goes on: its counters continue from the client's h (2 + 5 resent).
    again.write(`<r xmlns='${NS}'/>`);
    await again.waitFor((t) => t.includes(`<a xmlns='${NS}' h='1'/>`));
    again.write(`<a xmlns='${NS}' h='7'/>`);
    again.write(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await again.waitFor((t) => t.includes("id='p1'") || t.includes('id="p1"'));
    expect(again.text).not.toContain('<stream:error');
    expect(bob.stanzas.filter((s) => s.attrs.type === 'error')).toEqual([]);
    expect(await offline.store.count('alice', 'localhost')).toBe(0);
  });

  it('a session not resumed in time ends; what alice had not acknowledged goes to offline storage', async () => {
    const port = await start(300);
    const { c, id } = await aliceManaged(port);
    const bob = await connectClient({ port, username: 'bob', password: 'secret', resource: 'b' });
    clients.push(bob);
    for (const n of [1, 2])
      await bob.send(xml('message', { to: 'alice@localhost/r', type: 'chat' }, xml('body', {}, `m${n}`)));
    await c.waitFor((t) => bodies(t).length === 2);
    c.destroy();
    await bob.send(xml('message', { to: 'alice@localhost/r', type: 'chat' }, xml('body', {}, 'm3')));
    await eventually(
      'the session ended',
      () => server!.sm.userResources('alice', 'localhost'),
      (r) => r.length === 0,
    );
    await eventually(
      'unacked stanzas stored',
      () => offline.store.count('alice', 'localhost'),
      (n) => n === 3,
    );
    // Too late: the resumption fails, and the stream may bind instead.
    const again = await RawClient.connect(port);
    raws.push(again);
    again.write(streamOpen() + plainAuth('alice', 'secret'));
    await again.waitFor((t) => t.includes('<success'));
    again.write(`${streamOpen()}<resume xmlns='${NS}' previd='${id}' h='0'/>`);
    await again.waitFor((t) => t.includes('<failed'));
    expect(again.text).toContain('<item-not-found');
    again.write(
      `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq><presence/>`,
    );
    await again.waitFor((t) => bodies(t).length === 3);
    expect(bodies(again.text)).toEqual(['m1', 'm2', 'm3']);
  });

  it('<enable/> before the bind: <failed><unexpected-request/></failed>, and the stream goes on', async () => {
    const port = await start();
    const c = await RawClient.connect(port);
    raws.push(c);
    c.write(streamOpen() + plainAuth('alice', 'secret'));
    await c.waitFor((t) => t.includes('<success'));
    c.write(`${streamOpen()}<enable xmlns='${NS}'/>`);
    await c.waitFor((t) => t.includes('<failed'));
    expect(c.text).toContain('<unexpected-request');
    c.write(
      `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`,
    );
    await c.waitFor((t) => /<jid>alice@localhost\/r<\/jid>/.test(t));
  });

  it('the resumption id names the resource and a token; a forged token is refused', () => {
    const m = new StreamMgmt(true);
    const id = m.id('phone/1');
    expect(StreamMgmt.parseId(id)).toEqual({ resource: 'phone/1', token: m.token });
    expect(StreamMgmt.parseId('nodot')).toBeUndefined();
    m.sent(xml('message'), true);
    m.sent(xml('message'), true);
    expect(m.ack(3)).toBe(false);
    expect(m.ack(1)).toBe(true);
    expect(m.queued).toBe(1);
    expect(m.ack(1)).toBe(true); // repeated
    expect(m.ack(2)).toBe(true);
    expect(m.queued).toBe(0);
  });
});

describe('XEP-0198 with @xmpp/client (its stream-management and reconnect)', () => {
  it('the client enables it; after its TCP connection drops it reconnects and resumes, and gets what was sent meanwhile, once', async () => {
    const port = await start();
    const xmpp = client({
      service: `xmpp://127.0.0.1:${port}`,
      domain: 'localhost',
      resource: 'laptop',
      username: 'alice',
      password: 'secret',
      credentials: (authenticate) => authenticate({ username: 'alice', password: 'secret' }, 'PLAIN'),
    });
    const got: string[] = [];
    const events: string[] = [];
    xmpp.on('error', () => {});
    xmpp.on('stanza', (s) => {
      const body = s.getChildText('body');
      if (s.is('message') && body !== null) got.push(body);
    });
    const sm = (xmpp as unknown as { streamManagement: { id: string; on(e: string, f: () => void): void } })
      .streamManagement;
    sm.on('resumed', () => events.push('resumed'));
    try {
      await xmpp.start();
      await xmpp.send(xml('presence'));
      await eventually(
        'stream management enabled',
        () => sm.id,
        (id) => id !== '',
      );
      const bob = await connectClient({ port, username: 'bob', password: 'secret', resource: 'b' });
      clients.push(bob);
      await bob.send(
        xml('message', { to: 'alice@localhost/laptop', type: 'chat' }, xml('body', {}, 'before')),
      );
      await eventually(
        'the first message',
        () => got,
        (g) => g.includes('before'),
      );
      (xmpp as unknown as { socket: { destroy(): void } }).socket.destroy();
      await bob.send(
        xml('message', { to: 'alice@localhost/laptop', type: 'chat' }, xml('body', {}, 'during')),
      );
      await eventually(
        'resumed',
        () => events,
        (e) => e.includes('resumed'),
        10_000,
      );
      await bob.send(
        xml('message', { to: 'alice@localhost/laptop', type: 'chat' }, xml('body', {}, 'after')),
      );
      await eventually(
        'every message',
        () => got,
        (g) => g.includes('after'),
      );
      expect(got).toEqual(['before', 'during', 'after']);
      expect(await server!.sm.userResources('alice', 'localhost')).toEqual(['laptop']);
    } finally {
      xmpp.reconnect.stop();
      await xmpp.stop().catch(() => {});
    }
  });
});
