// The chat server a stock client expects, with @xmpp/client over real sockets: roster and
// subscriptions (RFC 6121 §2, §3), presence (RFC 6121 §4), disco (XEP-0030), carbons (XEP-0280),
// blocking (XEP-0191), offline messages (XEP-0160).
import type { Socket } from 'node:net';
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { modBlocking } from '../src/modBlocking.ts';
import { modCarboncopy } from '../src/modCarboncopy.ts';
import { modDisco, NS_DISCO_INFO, NS_DISCO_ITEMS } from '../src/modDisco.ts';
import { modOffline } from '../src/modOffline.ts';
import { modPing } from '../src/modPing.ts';
import { modPresence } from '../src/modPresence.ts';
import { modRegister } from '../src/modRegister.ts';
import { modRoster, NS_ROSTER } from '../src/modRoster.ts';
import { connectClient, type TestClient } from '../src/testing/index.ts';
import type { XmppModule } from '../src/XmppModule.ts';
import { XmppServer } from '../src/XmppServer.ts';

const PASSWORD = 'secret';
const USERS = ['alice', 'bob', 'carol'];

let server: XmppServer | undefined;
const clients: TestClient[] = [];
let modules: {
  roster: ReturnType<typeof modRoster>;
  disco: ReturnType<typeof modDisco>;
  offline: ReturnType<typeof modOffline>;
  list: XmppModule[];
};

async function start(): Promise<number> {
  const system = new ActorSystem({ logger: silentLogger });
  const users = new MemoryUserStore();
  for (const u of USERS) await users.register(u, 'localhost', PASSWORD);
  const roster = modRoster();
  const disco = modDisco();
  const offline = modOffline();
  modules = {
    roster,
    disco,
    offline,
    list: [modPing(), offline, modRegister(), roster, modPresence(), disco, modBlocking(), modCarboncopy()],
  };
  // The clients log in with PLAIN over plain TCP (loopback, no TLS configured).
  server = await XmppServer.start({
    system,
    port: 0,
    users,
    logger: silentLogger,
    modules: modules.list,
    allowPlainWithoutTls: true,
  });
  return server.address.port;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop().catch(() => {});
  await server?.stop();
  server = undefined;
});

async function login(port: number, username: string, resource: string): Promise<TestClient> {
  const c = await connectClient({ port, username, password: PASSWORD, resource });
  clients.push(c);
  return c;
}

let ids = 0;
async function iq(c: TestClient, type: 'get' | 'set', child: Element, to?: string): Promise<Element> {
  const id = `t${++ids}`;
  await c.send(xml('iq', { type, id, ...(to === undefined ? {} : { to }) }, child));
  return c.waitFor(
    (s) => s.is('iq') && s.attrs.id === id && (s.attrs.type === 'result' || s.attrs.type === 'error'),
  );
}

const rosterQuery = (ver?: string) =>
  xml('query', ver === undefined ? { xmlns: NS_ROSTER } : { xmlns: NS_ROSTER, ver });
const items = (r: Element) =>
  (r.getChild('query', NS_ROSTER)?.getChildren('item') ?? []).map((i) => ({
    jid: i.attrs.jid,
    subscription: i.attrs.subscription,
    ask: i.attrs.ask,
  }));
const isPresence = (from: string, type?: string) => (s: Element) =>
  s.is('presence') && s.attrs.from === from && s.attrs.type === type;
const isPush = (jid: string, subscription: string) => (s: Element) =>
  s.is('iq') &&
  s.attrs.type === 'set' &&
  s.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.jid === jid &&
  s.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.subscription === subscription;

/** Logs in, asks for the roster (becoming an interested resource) and sends initial presence. */
async function online(port: number, user: string, resource = 'r1'): Promise<TestClient> {
  const c = await login(port, user, resource);
  await iq(c, 'get', rosterQuery());
  await c.send(xml('presence'));
  await c.waitFor(isPresence(c.jid));
  return c;
}

/** alice and bob subscribe to each other (both online). */
async function befriend(alice: TestClient, bob: TestClient) {
  await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
  await bob.waitFor((s) => isPresence('alice@localhost', 'subscribe')(s));
  await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
  await alice.waitFor(isPush('bob@localhost', 'to'));
  await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
  await alice.waitFor(isPresence('bob@localhost', 'subscribe'));
  await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
  await alice.waitFor(isPush('bob@localhost', 'both'));
  await bob.waitFor(isPush('alice@localhost', 'both'));
}

describe('roster (RFC 6121 §2) and subscriptions (RFC 6121 §3)', () => {
  it('get, set with name and groups, push to every interested resource, remove; a second roster get is versioned (XEP-0237)', async () => {
    const port = await start();
    const a1 = await online(port, 'alice', 'r1');
    const a2 = await online(port, 'alice', 'r2');
    const first = await iq(a1, 'get', rosterQuery(''));
    expect(items(first)).toEqual([]);
    const ver0 = first.getChild('query', NS_ROSTER)?.attrs.ver;
    expect(ver0).toBeTypeOf('string');

    const set = await iq(
      a1,
      'set',
      xml(
        'query',
        { xmlns: NS_ROSTER },
        xml('item', { jid: 'Carol@LOCALHOST', name: 'Carol' }, xml('group', {}, 'Friends')),
      ),
    );
    expect(set.attrs.type).toBe('result');
    for (const c of [a1, a2]) {
      const push = await c.waitFor(isPush('carol@localhost', 'none'));
      const item = push.getChild('query', NS_ROSTER)!.getChild('item')!;
      expect(item.attrs.name).toBe('Carol');
      expect(item.getChildText('group')).toBe('Friends');
      expect(push.getChild('query', NS_ROSTER)!.attrs.ver).not.toBe(ver0);
    }
    const again = await iq(a1, 'get', rosterQuery(ver0));
    expect(items(again)).toEqual([{ jid: 'carol@localhost', subscription: 'none', ask: undefined }]);
    const ver1 = again.getChild('query', NS_ROSTER)!.attrs.ver;
    // The current version: an empty result (XEP-0237 §5.3).
    const same = await iq(a1, 'get', rosterQuery(ver1));
    expect(same.attrs.type).toBe('result');
    expect(same.getChild('query')).toBeUndefined();

    const bad = await iq(
      a1,
      'set',
      xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'x@localhost', ask: 'subscribe' })),
    );
    expect(bad.getChild('error')?.getChild('bad-request')).toBeDefined();
    const two = await iq(
      a1,
      'set',
      xml(
        'query',
        { xmlns: NS_ROSTER },
        xml('item', { jid: 'x@localhost' }),
        xml('item', { jid: 'y@localhost' }),
      ),
    );
    expect(two.getChild('error')?.getChild('bad-request')).toBeDefined();
    const other = await iq(a1, 'get', rosterQuery(), 'bob@localhost');
    expect(other.getChild('error')?.getChild('forbidden')).toBeDefined();

    await iq(
      a1,
      'set',
      xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'carol@localhost', subscription: 'remove' })),
    );
    for (const c of [a1, a2]) await c.waitFor(isPush('carol@localhost', 'remove'));
    expect(items(await iq(a2, 'get', rosterQuery()))).toEqual([]);
  });

  it('the handshake with both online: subscribe, subscribed, both ways; then presence flows both ways', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    const bob = await online(port, 'bob');
    await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    // The sender's pending state is pushed (ask='subscribe'); the request leaves from the bare JID.
    const pending = await alice.waitFor(isPush('bob@localhost', 'none'));
    expect(pending.getChild('query')!.getChild('item')!.attrs.ask).toBe('subscribe');
    await bob.waitFor(isPresence('alice@localhost', 'subscribe'));
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await bob.waitFor(isPush('alice@localhost', 'from'));
    await alice.waitFor(isPush('bob@localhost', 'to'));
    // Approving sends bob's presence to alice at once (`route_presence_change`).
    await alice.waitFor(isPresence(bob.jid));
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await alice.waitFor(isPresence('bob@localhost', 'subscribe'));
    await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
    await alice.waitFor(isPush('bob@localhost', 'both'));
    await bob.waitFor(isPush('alice@localhost', 'both'));
    await bob.waitFor(isPresence(alice.jid));
    expect(items(await iq(alice, 'get', rosterQuery()))).toEqual([
      { jid: 'bob@localhost', subscription: 'both', ask: undefined },
    ]);
    // A new status reaches the subscriber.
    await alice.send(xml('presence', {}, xml('show', {}, 'away')));
    const away = await bob.waitFor((s) => isPresence(alice.jid)(s) && s.getChildText('show') === 'away');
    // Sent to bob's bare JID, delivered to each available resource at its full JID.
    expect(away.attrs.to).toBe(bob.jid);
    // Unsubscribe: alice no longer sees bob's presence, bob is told.
    await alice.send(xml('presence', { to: 'bob@localhost', type: 'unsubscribe' }));
    await alice.waitFor(isPush('bob@localhost', 'from'));
    await bob.waitFor(isPush('alice@localhost', 'to'));
    await alice.waitFor(isPresence(bob.jid, 'unavailable'));
  });

  it('a subscription request to a contact offline at the time is kept and shown at its next login; the approval completes it', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    await alice.send(
      xml('presence', { to: 'bob@localhost', type: 'subscribe' }, xml('status', {}, 'hi, it is alice')),
    );
    await alice.waitFor(isPush('bob@localhost', 'none'));
    // Routed through the session manager, processed by bob's roster though bob is offline.
    const bob = await login(port, 'bob', 'r1');
    await iq(bob, 'get', rosterQuery());
    await bob.send(xml('presence'));
    const request = await bob.waitFor(isPresence('alice@localhost', 'subscribe'));
    expect(request.getChildText('status')).toBe('hi, it is alice');
    // A pending inbound request is not a roster item yet (RFC 6121 §3.1.3).
    expect(items(await iq(bob, 'get', rosterQuery()))).toEqual([]);
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await alice.waitFor(isPush('bob@localhost', 'to'));
    await alice.waitFor(isPresence(bob.jid));

    // The approval of a contact that is offline: alice's roster is updated without her.
    await alice.stop();
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await bob.waitFor(
      (s) =>
        isPush('alice@localhost', 'from')(s) &&
        s.getChild('query')!.getChild('item')!.attrs.ask === 'subscribe',
    );
    const alice2 = await login(port, 'alice', 'r2');
    await alice2.send(xml('presence'));
    await alice2.waitFor(isPresence('bob@localhost', 'subscribe'));
    // alice's probe at login got bob's presence (she has a subscription to bob).
    await alice2.waitFor(isPresence(bob.jid));
  });
});

describe('presence (RFC 6121 §4)', () => {
  it('initial presence reaches subscribers; the probe brings back each available resource, negative priority included', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    const bob = await online(port, 'bob', 'phone');
    await befriend(alice, bob);
    const bob2 = await login(port, 'bob', 'desk');
    await bob2.send(xml('presence', {}, xml('priority', {}, '-1')));
    await alice.waitFor((s) => isPresence(bob2.jid)(s) && s.getChildText('priority') === '-1');
    // carol logs in later: probes at her initial presence; alice's session answers for alice.
    const a2 = await login(port, 'alice', 'r9');
    await a2.send(xml('presence', {}, xml('status', {}, 'late')));
    // bob's two resources answer a2's probe (bob has a subscription from alice).
    await a2.waitFor(isPresence(bob.jid));
    await a2.waitFor(isPresence(bob2.jid));
    // The other resource of the same user answers too.
    await a2.waitFor(isPresence(alice.jid));
    await bob.waitFor((s) => isPresence(a2.jid)(s) && s.getChildText('status') === 'late');
    // A message to bob's bare JID goes to the non-negative resource only.
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'to bare')));
    await bob.waitFor((s) => s.is('message') && s.getChildText('body') === 'to bare');
    await new Promise((r) => setTimeout(r, 100));
    expect(bob2.stanzas.some((s) => s.is('message') && s.getChildText('body') === 'to bare')).toBe(false);
    // Probes never reach a client.
    expect(
      [...alice.stanzas, ...bob.stanzas, ...bob2.stanzas, ...a2.stanzas].some(
        (s) => s.attrs.type === 'probe',
      ),
    ).toBe(false);
  });

  it('unavailable reaches subscribers and directed-presence targets on explicit unavailable, on disconnect, and when the client is killed', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    const bob = await online(port, 'bob');
    await befriend(alice, bob);
    const carol = await online(port, 'carol');
    // Directed presence to carol, who has no subscription.
    await bob.send(xml('presence', { to: 'carol@localhost' }));
    await carol.waitFor(isPresence(bob.jid));
    await bob.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'bye')));
    const u = await alice.waitFor(isPresence(bob.jid, 'unavailable'));
    expect(u.getChildText('status')).toBe('bye');
    await carol.waitFor(isPresence(bob.jid, 'unavailable'));

    const bob2 = await online(port, 'bob', 'r2');
    await alice.waitFor(isPresence(bob2.jid));
    await bob2.stop();
    await alice.waitFor(isPresence(bob2.jid, 'unavailable'));

    const bob3 = await online(port, 'bob', 'r3');
    await alice.waitFor(isPresence(bob3.jid));
    // A killed client: the TCP connection drops without </stream:stream>.
    (bob3.xmpp as unknown as { socket: Socket }).socket.destroy();
    await alice.waitFor(isPresence(bob3.jid, 'unavailable'));
  });
});

describe('service discovery (XEP-0030)', () => {
  it('the server and a bare JID list exactly the registered IQ handlers and the features modules declare', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    const info = await iq(alice, 'get', xml('query', { xmlns: NS_DISCO_INFO }), 'localhost');
    const features = (r: Element) =>
      r
        .getChild('query', NS_DISCO_INFO)!
        .getChildren('feature')
        .map((f) => String(f.attrs.var));
    const serverFeatures = features(info);
    expect(info.getChild('query')!.getChild('identity')!.attrs).toMatchObject({
      category: 'server',
      type: 'im',
    });
    const iqNamespaces = server!.localIq.features('localhost');
    expect(iqNamespaces).toEqual(expect.arrayContaining([NS_DISCO_INFO, NS_DISCO_ITEMS, 'urn:xmpp:ping']));
    // Exactly: the local IQ table, plus the non-IQ-to-host features of loaded modules.
    expect(serverFeatures).toEqual(
      [...new Set([...iqNamespaces, 'msgoffline', 'urn:xmpp:blocking', 'urn:xmpp:carbons:2'])].sort(),
    );
    const mine = await iq(alice, 'get', xml('query', { xmlns: NS_DISCO_INFO }), 'alice@localhost');
    expect(features(mine)).toEqual([...new Set([...server!.sm.iqHandlers.features('localhost')])].sort());
    expect(features(mine)).toEqual(
      expect.arrayContaining([NS_ROSTER, 'urn:xmpp:blocking', 'urn:xmpp:carbons:2', 'urn:xmpp:ping']),
    );
    const items = await iq(alice, 'get', xml('query', { xmlns: NS_DISCO_ITEMS }), 'localhost');
    expect(items.attrs.type).toBe('result');
    // Not a contact: bob's account does not answer alice.
    const stranger = await iq(alice, 'get', xml('query', { xmlns: NS_DISCO_INFO }), 'bob@localhost');
    expect(stranger.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });
});

describe('carbons (XEP-0280) and blocking (XEP-0191)', () => {
  it('a message sent or received by one resource is copied to the other resource that enabled carbons', async () => {
    const port = await start();
    const a1 = await online(port, 'alice', 'r1');
    const a2 = await online(port, 'alice', 'r2');
    const bob = await online(port, 'bob');
    expect((await iq(a2, 'set', xml('enable', { xmlns: 'urn:xmpp:carbons:2' }))).attrs.type).toBe('result');
    await bob.send(xml('message', { to: a1.jid, type: 'chat' }, xml('body', {}, 'hello r1')));
    await a1.waitFor((s) => s.is('message') && s.getChildText('body') === 'hello r1');
    const rcv = await a2.waitFor((s) => s.getChild('received', 'urn:xmpp:carbons:2') !== undefined);
    const inner = rcv.getChild('received')!.getChild('forwarded')!.getChild('message')!;
    expect(inner.getChildText('body')).toBe('hello r1');
    // The forwarded stanza keeps its namespace (XEP-0297): a client reads it as a message.
    expect(inner.attrs.xmlns).toBe('jabber:client');
    expect(rcv.attrs.from).toBe('alice@localhost');
    await a1.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'hi bob')));
    await bob.waitFor((s) => s.getChildText('body') === 'hi bob');
    const sent = await a2.waitFor((s) => s.getChild('sent', 'urn:xmpp:carbons:2') !== undefined);
    expect(sent.getChild('sent')!.getChild('forwarded')!.getChild('message')!.getChildText('body')).toBe(
      'hi bob',
    );
    // Private messages are not copied; r1 did not enable carbons and gets none of a2's.
    await a1.send(
      xml(
        'message',
        { to: 'bob@localhost', type: 'chat' },
        xml('body', {}, 'secret'),
        xml('private', { xmlns: 'urn:xmpp:carbons:2' }),
      ),
    );
    await bob.waitFor((s) => s.getChildText('body') === 'secret');
    await a2.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'from r2')));
    await bob.waitFor((s) => s.getChildText('body') === 'from r2');
    await new Promise((r) => setTimeout(r, 100));
    expect(a2.stanzas.filter((s) => s.getChild('sent') !== undefined)).toHaveLength(1);
    expect(
      a1.stanzas.some((s) => s.getChild('sent') !== undefined || s.getChild('received') !== undefined),
    ).toBe(false);
  });

  it("a blocked user's message is refused with service-unavailable, presence and IQs do not pass; sending to a blocked JID is not-acceptable", async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    const bob = await online(port, 'bob');
    await befriend(alice, bob);
    const block = await iq(
      alice,
      'set',
      xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: 'bob@localhost' })),
    );
    expect(block.attrs.type).toBe('result');
    await alice.waitFor((s) => s.is('iq') && s.getChild('block', 'urn:xmpp:blocking') !== undefined);
    // Blocking sends the blocked contact unavailable.
    await bob.waitFor(isPresence(alice.jid, 'unavailable'));
    await bob.send(xml('message', { to: alice.jid, type: 'chat', id: 'm1' }, xml('body', {}, 'let me in')));
    const err = await bob.waitFor((s) => s.is('message') && s.attrs.id === 'm1' && s.attrs.type === 'error');
    expect(err.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    const ping = await iq(bob, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), alice.jid);
    expect(ping.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    await bob.send(xml('presence', {}, xml('status', {}, 'new status')));
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'm2' }, xml('body', {}, 'hm')));
    const out = await alice.waitFor((s) => s.attrs.id === 'm2' && s.attrs.type === 'error');
    expect(out.getChild('error')!.getChild('not-acceptable')).toBeDefined();
    expect(out.getChild('error')!.getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
    const list = await iq(alice, 'get', xml('blocklist', { xmlns: 'urn:xmpp:blocking' }));
    expect(
      list
        .getChild('blocklist')!
        .getChildren('item')
        .map((i) => i.attrs.jid),
    ).toEqual(['bob@localhost']);
    expect(alice.stanzas.some((s) => s.is('message') && s.getChildText('body') === 'let me in')).toBe(false);
    expect(alice.stanzas.some((s) => s.is('presence') && s.getChildText('status') === 'new status')).toBe(
      false,
    );
    await iq(alice, 'set', xml('unblock', { xmlns: 'urn:xmpp:blocking' }));
    await bob.send(xml('message', { to: alice.jid, type: 'chat' }, xml('body', {}, 'again')));
    await alice.waitFor((s) => s.getChildText('body') === 'again');
  });
});

describe('offline messages (XEP-0160)', () => {
  it('stored with a delay stamp while the user is offline, delivered after initial presence', async () => {
    const port = await start();
    const alice = await online(port, 'alice');
    await alice.send(xml('message', { to: 'carol@localhost', type: 'chat' }, xml('body', {}, 'while away')));
    await expect.poll(() => modules.offline.store.count('carol', 'localhost')).toBe(1);
    const carol = await login(port, 'carol', 'r1');
    await carol.send(xml('presence'));
    const m = await carol.waitFor((s) => s.getChildText('body') === 'while away');
    expect(m.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
