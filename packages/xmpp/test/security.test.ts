// Regression tests for issue 11's findings, each over real sockets against a real server: one user
// cannot hurt another, memory stays bounded, nothing routed is lost.
import { type Logger, SimulatedClock } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthThrottle } from '../src/AuthThrottle.ts';
import type { C2SAuthResult } from '../src/hooks.ts';
import { modOffline } from '../src/modOffline.ts';
import { modPing } from '../src/modPing.ts';
import { connectClient, RawClient, startTags, streamOpen, type TestClient } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';

interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg: string | undefined;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj, msg });
  return { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
}

const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

let server: XmppServer | undefined;
const clients: TestClient[] = [];
const raws: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  for (const r of raws.splice(0)) r.destroy();
  await server?.stop();
  server = undefined;
});

async function start(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  server = s.server;
  return s;
}

async function login(port: number, username: string, resource: string): Promise<TestClient> {
  const c = await connectClient({ port, username, password: PASSWORD, resource });
  clients.push(c);
  return c;
}

async function raw(port: number): Promise<RawClient> {
  const r = await RawClient.connect(port);
  raws.push(r);
  return r;
}

async function rawLogin(port: number, user: string, resource: string, password = PASSWORD) {
  const r = await RawClient.login(port, user, password, resource);
  raws.push(r);
  return r;
}

/** `<a>` nested `n` deep inside `<x/>`: with the message and `<x/>`, the innermost is at depth n + 2. */
function nested(n: number): Element {
  let inner = xml('a', {}, 'core');
  for (let i = 1; i < n; i++) inner = xml('a', {}, inner);
  return xml('x', { xmlns: 'urn:test:deep' }, inner);
}

function depthOf(el: Element): number {
  let depth = 1;
  let cursor: Element | undefined = el;
  while (cursor !== undefined) {
    const next: Element | undefined = cursor.children.find((c): c is Element => typeof c !== 'string');
    if (next === undefined) break;
    cursor = next;
    depth++;
  }
  return depth;
}

const available = async (c: TestClient, priority = 0) => {
  await c.send(xml('presence', {}, xml('priority', {}, String(priority))));
  await c.waitFor((s) => s.is('presence') && s.attrs.from === c.jid && s.attrs.to === c.jid);
};

describe('finding 1: a deeply nested stanza cannot disconnect its recipient', () => {
  it('thousands of nested elements end the sender’s stream (policy-violation) while parsing; the recipient is untouched', async () => {
    const { port } = await start();
    const bob = await login(port, 'bob', 'phone');
    await available(bob);
    const mallory = await rawLogin(port, 'alice', 'evil');
    const depth = 5000; // ~25 KiB, far below max_stanza_size
    mallory.write(
      `<message to='bob@localhost' type='headline'><body>boom</body>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</message>`,
    );
    await mallory.closed;
    expect(mallory.text).toContain(`<policy-violation xmlns='${NS_STREAMS}'/>`);
    expect(mallory.text).toContain('XML stanza is too deep');
    // bob never saw it and is still connected: a message after it arrives.
    const carol = await login(port, 'carol', 'c');
    await carol.send(xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, 'still here?')));
    await bob.waitFor((s) => s.getChildText('body') === 'still here?');
    expect(bob.stanzas.some((s) => s.getChildText('body') === 'boom')).toBe(false);
    expect(bob.streamErrors).toEqual([]);
  });

  it('at the depth bound the stanza is delivered intact: to a full JID, as a headline to every resource, through offline storage, and in an error bounce', async () => {
    const { port } = await start({ maxElementDepth: 64 });
    const bound = 62; // message (1) > x (2) > a … : the innermost a is at depth 64
    const alice = await login(port, 'alice', 'a');
    const bob1 = await login(port, 'bob', 'one');
    const bob2 = await login(port, 'bob', 'two');
    await available(bob1, 1);
    await available(bob2, 1);
    await alice.send(xml('message', { to: bob1.jid, type: 'chat', id: 'full' }, nested(bound)));
    await alice.send(xml('message', { to: 'bob@localhost', type: 'headline', id: 'news' }, nested(bound)));
    await alice.send(
      xml(
        'message',
        { to: 'dave@localhost', type: 'chat', id: 'later' },
        xml('body', {}, 'x'),
        nested(bound),
      ),
    );
    await alice.send(xml('message', { to: 'nobody@localhost', type: 'chat', id: 'bounce' }, nested(bound)));
    const full = await bob1.waitFor((s) => s.attrs.id === 'full');
    expect(depthOf(full)).toBe(bound + 2);
    for (const b of [bob1, bob2])
      expect(depthOf(await b.waitFor((s) => s.attrs.id === 'news'))).toBe(bound + 2);
    const bounced = await alice.waitFor((s) => s.attrs.id === 'bounce');
    expect(bounced.attrs.type).toBe('error');
    expect(depthOf(bounced.getChild('x')!)).toBe(bound + 1);
    // The offline copy is stored and delivered at dave's first presence: his login survives it.
    const dave = await login(port, 'dave', 'home');
    await dave.send(xml('presence'));
    const later = await dave.waitFor((s) => s.attrs.id === 'later');
    expect(depthOf(later.getChild('x')!)).toBe(bound + 1);
    await alice.send(xml('message', { to: dave.jid, type: 'chat' }, xml('body', {}, 'alive')));
    await dave.waitFor((s) => s.getChildText('body') === 'alive');
  });

  it('one level past the bound is refused, and only the sender’s stream ends', async () => {
    const { port } = await start({ maxElementDepth: 64 });
    const bob = await login(port, 'bob', 'b');
    const mallory = await rawLogin(port, 'alice', 'm');
    mallory.write(`<message to='${bob.jid}' type='chat'>${'<a>'.repeat(64)}${'</a>'.repeat(64)}</message>`);
    await mallory.closed;
    expect(mallory.text).toContain('XML stanza is too deep');
    await bob.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
    );
  });
});

describe('finding 2: a client that does not read is closed; nothing routed to it is lost', () => {
  it('8 MB to a non-reading session: policy-violation past maxSendQueueBytes, and every message is delivered, stored offline or bounced', async () => {
    const lines: LogLine[] = [];
    const offline = modOffline();
    const { port } = await start({
      maxSendQueueBytes: 256 * 1024,
      shaperBytesPerSecond: Number.POSITIVE_INFINITY,
      closeTimeoutMs: 200,
      modules: [modPing(), offline],
      logger: capturingLogger(lines),
    });
    const bob = await rawLogin(port, 'bob', 'r');
    bob.write('<presence/>');
    await bob.waitFor((t) => t.includes('<presence'));
    bob.pause();
    const alice = await rawLogin(port, 'alice', 'a');
    const N = 1000;
    const body = 'x'.repeat(8 * 1024);
    let batch = '';
    for (let i = 0; i < N; i++) {
      batch += `<message to='${bob.jid}' type='chat' id='m${i}'><body>${body}</body></message>`;
      if (batch.length > 256 * 1024) {
        alice.write(batch);
        batch = '';
      }
    }
    alice.write(batch);
    // The server gives up on bob: his session goes (and with it, his connection)…
    await eventually(
      "the server to give up on bob's session",
      () => server!.sm.userResources('bob', 'localhost'),
      (r) => r.length === 0,
    );
    // …then bob reads what reached him, up to the end of the stream.
    bob.resume();
    await bob.closed;
    const ids = (tags: Record<string, string>[]) => tags.map((a) => a.id!).filter((id) => /^m\d+$/.test(id));
    const delivered = ids(startTags(bob.text, 'message'));
    const fates = () => {
      // The memory store answers synchronously.
      const stored = (offline.store.peek('bob', 'localhost') as Element[]).map((m) => String(m.attrs.id));
      const bounced = ids(startTags(alice.text, 'message').filter((a) => a.type === 'error'));
      return { stored, bounced, all: new Set([...delivered, ...stored, ...bounced]) };
    };
    // Stanzas the socket never took are re-routed when it is destroyed (closeTimeoutMs later).
    await eventually(
      `every one of the ${N} messages delivered, stored or bounced`,
      () => fates().all.size,
      (n) => n >= N,
    );
    const { stored, bounced, all } = fates();
    expect(all.size).toBe(N); // none missing
    expect(delivered.length).toBeLessThan(N);
    expect(stored.length).toBeGreaterThan(0);
    expect(bounced).toEqual([]); // the offline store had room for all of them
    expect(
      lines.some((l) => l.level === 'warn' && l.msg === 'c2s: the client does not read; closing its stream'),
    ).toBe(true);
    // alice was never affected.
    alice.write("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await alice.waitFor((t) => /<iq[^>]*id="p"/.test(t));
  });

  it('a client closing its stream with stanzas still queued: they go to another resource', async () => {
    const { port } = await start({ shaperBytesPerSecond: Number.POSITIVE_INFINITY });
    const phone = await login(port, 'bob', 'phone');
    await available(phone, 0);
    const laptop = await rawLogin(port, 'bob', 'laptop');
    laptop.write('<presence><priority>5</priority></presence>');
    await laptop.waitFor((t) => t.includes('<presence'));
    const alice = await rawLogin(port, 'alice', 'a');
    // Messages to the bare JID go to the laptop (priority 5); it closes while they arrive.
    let batch = '';
    for (let i = 0; i < 300; i++) {
      batch += `<message to='bob@localhost' type='chat' id='q${i}'><body>${'y'.repeat(2000)}</body></message>`;
    }
    laptop.pause();
    alice.write(batch);
    laptop.close();
    laptop.resume();
    await laptop.closed;
    const onLaptop = new Set(startTags(laptop.text, 'message').map((a) => a.id));
    const missing = () => {
      const onPhone = new Set(phone.stanzas.map((s) => s.attrs.id));
      return Array.from({ length: 300 }, (_, i) => `q${i}`).filter(
        (id) => !onLaptop.has(id) && !onPhone.has(id),
      );
    };
    await eventually('every message on the laptop or the phone', missing, (m) => m.length === 0);
    expect(missing()).toEqual([]);
  });
});

describe('finding 3: offline messages to any spelling of a user reach him, under one cap', () => {
  const spellings = ['ｂｏｂ@localhost', 'bob@ｌｏｃａｌｈｏｓｔ', 'b\u00adob@localhost', 'BOB@LocalHost'];

  it('four spellings of bob are stored under bob and delivered at his first presence', async () => {
    const offline = modOffline();
    const { port } = await start({ modules: [modPing(), offline] });
    const alice = await login(port, 'alice', 'a');
    for (const [i, to] of spellings.entries()) {
      await alice.send(xml('message', { to, type: 'chat', id: `s${i}` }, xml('body', {}, `to ${to}`)));
    }
    await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
    );
    expect(await offline.store.count('bob', 'localhost')).toBe(4);
    const bob = await login(port, 'bob', 'b');
    await bob.send(xml('presence'));
    for (let i = 0; i < spellings.length; i++) await bob.waitFor((s) => s.attrs.id === `s${i}`);
  });

  it('the per-user cap counts every spelling: past it, the sender gets service-unavailable', async () => {
    const offline = modOffline({ maxMessages: 3 });
    const { port } = await start({ modules: [modPing(), offline] });
    const alice = await login(port, 'alice', 'a');
    for (const [i, to] of spellings.entries()) {
      await alice.send(xml('message', { to, type: 'chat', id: `c${i}` }, xml('body', {}, 'hi')));
    }
    const bounced = await alice.waitFor((s) => s.attrs.id === 'c3');
    expect(bounced.attrs.type).toBe('error');
    expect(bounced.getChild('error')?.getChild('service-unavailable')).toBeDefined();
    expect(await offline.store.count('bob', 'localhost')).toBe(3);
  });
});

describe('finding 4: authentication abuse', () => {
  /** Runs one PLAIN attempt on its own connection; resolves with what the server answered. */
  async function attempt(
    port: number,
    user: string,
    password: string,
  ): Promise<'success' | 'failure' | 'refused'> {
    const r = await raw(port);
    r.write(streamOpen());
    await r.waitFor((t) => t.includes('</stream:features>') || t.includes('<stream:error>'));
    if (r.text.includes('<stream:error>')) return 'refused';
    r.write(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`,
    );
    await r.waitFor((t) => t.includes('<success') || t.includes('<failure') || t.includes('<stream:error>'));
    r.destroy();
    if (r.text.includes('<success')) return 'success';
    return r.text.includes('<failure') ? 'failure' : 'refused';
  }

  it('each failure past the first is answered after a delay that doubles (the throttle’s clock), reported to c2s_auth_result and logged at warning', async () => {
    const clock = new SimulatedClock(0);
    const lines: LogLine[] = [];
    const { port, server: s } = await start({
      authThrottle: new AuthThrottle({ clock, baseDelayMs: 500, maxDelayMs: 8000, freeFailures: 1 }),
      logger: capturingLogger(lines),
      maxAuthFailures: 10,
    });
    const results: C2SAuthResult[] = [];
    s.hooks.add('c2s_auth_result', 'localhost', (r) => void results.push(r), 50);
    const r = await raw(port);
    r.write(streamOpen());
    await r.waitFor((t) => t.includes('</stream:features>'));
    const auth = (password: string) =>
      r.write(
        `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0alice\0${password}`).toString('base64')}</auth>`,
      );
    const failures = () => (r.text.match(/<failure/g) ?? []).length;
    auth('wrong-1');
    await r.waitFor(() => failures() === 1); // the first one at once
    for (const [i, delay] of [500, 1000, 2000].entries()) {
      auth(`wrong-${i + 2}`);
      await eventually(
        `c2s_auth_result for attempt ${i + 2}`,
        () => results.length,
        (n) => n >= i + 2,
      );
      expect(results.at(-1)).toMatchObject({
        result: 'failure',
        user: 'alice',
        delayMs: delay,
        accountFailures: i + 2,
      });
      for (let k = 0; k < 5; k++) await nextTurn();
      expect(failures()).toBe(i + 1); // held until the delay has passed
      clock.advance(delay);
      await r.waitFor(() => failures() === i + 2);
    }
    const warned = lines.filter((l) => l.level === 'warn' && l.msg === 'c2s: authentication failed');
    expect(warned).toHaveLength(4);
    expect(warned[0]!.obj).toMatchObject({ ip: '127.0.0.1', user: 'alice', mechanism: 'PLAIN' });
  });

  it('500 wrong passwords over 20 connections: the account and the address are locked out, the right password fails too until the lockout ends', async () => {
    const clock = new SimulatedClock(0);
    const lines: LogLine[] = [];
    const throttle = new AuthThrottle({ clock, baseDelayMs: 0, lockoutMs: 60_000 });
    const { port, server: s } = await start({ authThrottle: throttle, logger: capturingLogger(lines) });
    const results: C2SAuthResult[] = [];
    s.hooks.add('c2s_auth_result', 'localhost', (r) => void results.push(r), 50);
    const outcomes: string[] = [];
    for (let wave = 0; wave < 25; wave++) {
      outcomes.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, (_, i) => attempt(port, 'alice', `guess-${wave}-${i}`)),
        )),
      );
    }
    expect(outcomes).toHaveLength(500);
    expect(outcomes).not.toContain('success');
    // The address was locked out after 20 failures: later streams are refused at once.
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(400);
    expect(results.filter((r) => r.result === 'failure').length).toBeLessThan(60);
    expect(results.some((r) => r.lockedOut === 'account')).toBe(true);
    expect(results.some((r) => r.lockedOut === 'ip')).toBe(true);
    expect(lines.some((l) => l.level === 'warn' && /locked out/.test(l.msg ?? ''))).toBe(true);
    expect(await attempt(port, 'alice', PASSWORD)).toBe('refused');
    clock.advance(60_000);
    expect(await attempt(port, 'alice', PASSWORD)).toBe('success');
  });

  it('a locked account fails with the right password, from another address too, like a wrong password', async () => {
    const clock = new SimulatedClock(0);
    const throttle = new AuthThrottle({ clock, baseDelayMs: 0, maxFailuresPerAccount: 5, lockoutMs: 1000 });
    const { port } = await start({ authThrottle: throttle });
    for (let i = 0; i < 5; i++) expect(await attempt(port, 'bob', `nope${i}`)).toBe('failure');
    expect(await attempt(port, 'bob', PASSWORD)).toBe('failure');
    expect(await attempt(port, 'alice', PASSWORD)).toBe('success'); // another account is not affected
    clock.advance(1000);
    expect(await attempt(port, 'bob', PASSWORD)).toBe('success');
  });

  it('SCRAM: an unknown user’s challenge has a stable 16-byte salt and the real iteration count', async () => {
    const { port } = await start();
    const challenge = async (user: string) => {
      const r = await raw(port);
      r.write(streamOpen());
      await r.waitFor((t) => t.includes('</stream:features>'));
      const first = Buffer.from(`n,,n=${user},r=abcdefgh`).toString('base64');
      r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${first}</auth>`);
      await r.waitFor((t) => t.includes('</challenge>'));
      const data = Buffer.from(/<challenge[^>]*>([^<]*)<\/challenge>/.exec(r.text)![1]!, 'base64').toString();
      r.destroy();
      const attrs = Object.fromEntries(data.split(',').map((p) => [p[0], p.slice(2)]));
      return { salt: Buffer.from(attrs.s!, 'base64'), iterations: Number(attrs.i) };
    };
    const real = await challenge('alice');
    const ghost1 = await challenge('ghost');
    const ghost2 = await challenge('ghost');
    const other = await challenge('phantom');
    expect(ghost1.salt.length).toBe(real.salt.length);
    expect(ghost1.iterations).toBe(real.iterations);
    expect(ghost2.salt.equals(ghost1.salt)).toBe(true); // stable, like a stored salt
    expect(other.salt.equals(ghost1.salt)).toBe(false);
    const realAgain = await challenge('alice');
    expect(realAgain.salt.equals(real.salt)).toBe(true);
  });
});

describe('finding 6: malformed XML and SASL aborts end the stream at once', () => {
  const HEADER = streamOpen();
  it.each([
    ['a lowercase doctype', '<!doctype x>', '<!d', 'restricted-xml'],
    ['a mixed-case DOCTYPE', '<!DoCtYpE x [ <!ENTITY a "b"> ]>', '<!D', 'restricted-xml'],
    ['a comment', '<!-- hi -->', '<!-', 'restricted-xml'],
    ['a processing instruction', '<?php echo 1 ?>', '<?p', 'restricted-xml'],
    ['an unquoted attribute', "<message to=bob@localhost type='chat'>", '<message to=b', 'not-well-formed'],
    ['attributes without a space', "<message to='a'type='chat'>", "<message to='a't", 'not-well-formed'],
    ['a duplicate attribute', "<message to='a' to='b'>", "<message to='a' to='b'", 'not-well-formed'],
    ['an attribute without a value', '<message to>', '<message to>', 'not-well-formed'],
  ])('%s → %s, refused at the first byte that shows it', async (_what, payload, prefix, condition) => {
    const { port } = await start({ negotiationTimeoutMs: 60_000 });
    // Whole, then only the prefix that shows the fault (the rest is never sent): either way the
    // stream ends at once, not at the negotiation timeout.
    for (const bytes of [payload, prefix]) {
      const r = await raw(port);
      r.write(HEADER);
      await r.waitFor((t) => t.includes('</stream:features>'));
      r.write(bytes);
      await r.closed;
      expect(r.text).toContain(`<${condition} xmlns='${NS_STREAMS}'/>`);
    }
  });

  it('three SASL aborts end the stream with not-authorized (each counted and reported as aborted)', async () => {
    const { port, server: s } = await start();
    const results: C2SAuthResult[] = [];
    s.hooks.add('c2s_auth_result', 'localhost', (r) => void results.push(r), 50);
    const r = await raw(port);
    r.write(HEADER);
    await r.waitFor((t) => t.includes('</stream:features>'));
    const first = Buffer.from('n,,n=alice,r=abcdefgh').toString('base64');
    for (let i = 1; i <= 3; i++) {
      r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${first}</auth>`);
      await r.waitFor((t) => (t.match(/<\/challenge>/g) ?? []).length === i);
      r.write("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
      await r.waitFor((t) => (t.match(/<aborted\/>/g) ?? []).length === i);
    }
    await r.closed;
    expect(r.text).toContain(`<not-authorized xmlns='${NS_STREAMS}'/>`);
    expect(results.map((x) => [x.result, x.mechanism, x.reason, x.ipFailures])).toEqual([
      ['failure', 'SCRAM-SHA-1', 'aborted', 1],
      ['failure', 'SCRAM-SHA-1', 'aborted', 2],
      ['failure', 'SCRAM-SHA-1', 'aborted', 3],
    ]);
  });
});
