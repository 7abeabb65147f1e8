import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import { Hooks } from '@otp-chat/event-bus';
import type { Jid } from '@otp-chat/jid';
import { KICK, REPLACED, SessionManager } from '@otp-chat/session-manager';
import type { Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthThrottle } from '../src/AuthThrottle.ts';
import { c2sConnectionServer } from '../src/C2SConnection.ts';
import type { C2SOptions } from '../src/C2SOptions.ts';
import { DEFAULTS } from '../src/DEFAULTS.ts';
import type { C2SHost } from '../src/internal/C2SHost.ts';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { scramDecoy } from '../src/ScramSha1.ts';

/** A socket double: records writes, pause/resume and closing. */
class FakeSocket extends EventEmitter {
  out = '';
  /** Calls to `write` (each one a system call on a real socket). */
  writes = 0;
  paused = false;
  ended = false;
  destroyed = false;
  remoteAddress = '127.0.0.1';
  write(data: string): boolean {
    this.out += data;
    this.writes++;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  setNoDelay(): this {
    return this;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  end(data?: string): this {
    if (data !== undefined) this.out += data;
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  feed(text: string): void {
    this.emit('data', Buffer.from(text));
  }
}

const HEADER =
  "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const plain = (user: string, password: string) =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`;
const bindIq = (resource: string) =>
  `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`;

/** Lets the mailbox drain (microtasks, nextTick, one macrotask): no timing involved. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const systems: ActorSystem[] = [];
afterEach(() => {
  systems.length = 0;
});

async function setup(options: Partial<C2SOptions> = {}) {
  const clock = new SimulatedClock(0);
  const system = new ActorSystem({ clock, logger: silentLogger });
  systems.push(system);
  const hooks = new Hooks({ logger: silentLogger });
  const sm = await SessionManager.start({
    system,
    hosts: ['localhost'],
    hooks,
    logger: silentLogger,
    replacedConnectionTimeoutMs: 0,
  });
  const users = new MemoryUserStore();
  users.register('alice', 'localhost', 'secret');
  const host: C2SHost = {
    sm,
    users,
    hooks,
    logger: silentLogger,
    hosts: ['localhost'],
    options: {
      maxStanzaSize: 262_144,
      shaperBytesPerSecond: Number.POSITIVE_INFINITY,
      shaperBurstBytes: 1_048_576,
      maxAuthFailures: 3,
      resourceConflict: 'acceptnew',
      negotiationTimeoutMs: 30_000,
      mechanisms: ['SCRAM-SHA-1', 'PLAIN'],
      access: () => 'allow',
      preAuthMaxStanzaSize: DEFAULTS.preAuthMaxStanzaSize,
      maxStanzaElements: DEFAULTS.maxStanzaElements,
      preAuthMaxStanzaElements: DEFAULTS.preAuthMaxStanzaElements,
      maxElementDepth: DEFAULTS.maxElementDepth,
      maxAttributes: DEFAULTS.maxAttributes,
      maxNameLength: DEFAULTS.maxNameLength,
      maxSendQueueBytes: DEFAULTS.maxSendQueueBytes,
      maxPendingInputBytes: DEFAULTS.maxPendingInputBytes,
      closeTimeoutMs: DEFAULTS.closeTimeoutMs,
      ...options,
    },
    route: (stanza: Element, _to: Jid) => void sm.route(stanza),
    reroute: (stanza: Element) => void sm.route(stanza),
    throttle: AuthThrottle.disabled(),
    scramDecoy: (username: string) => ({ salt: scramDecoy(Buffer.from('test'), username), iterations: 4096 }),
  };
  const connect = async () => {
    const socket = new FakeSocket();
    const ref = await system.spawn(c2sConnectionServer, { socket: socket as unknown as Socket, host });
    return { socket, ref };
  };
  const login = async (resource: string) => {
    const c = await connect();
    c.socket.feed(HEADER);
    c.socket.feed(plain('alice', 'secret'));
    c.socket.feed(HEADER);
    c.socket.feed(bindIq(resource));
    await settle();
    return c;
  };
  return { clock, system, sm, hooks, host, connect, login };
}

describe('C2SConnection with a socket double and a simulated clock', () => {
  it('negotiation timeout: connection-timeout once the clock passes negotiationTimeoutMs', async () => {
    const { clock, connect, system } = await setup({ negotiationTimeoutMs: 5000 });
    const { socket, ref } = await connect();
    socket.feed(HEADER);
    await settle();
    clock.advance(4999);
    await settle();
    expect(socket.out).not.toContain('connection-timeout');
    clock.advance(1);
    await settle();
    expect(socket.out).toContain("<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    expect(socket.ended).toBe(true);
    expect(system.isAlive(ref)).toBe(false);
  });

  it('an established session does not time out', async () => {
    const { clock, login, system } = await setup({ negotiationTimeoutMs: 5000 });
    const { socket, ref } = await login('r');
    expect(socket.out).toContain('<jid>alice@localhost/r</jid>');
    clock.advance(60_000);
    await settle();
    expect(system.isAlive(ref)).toBe(true);
    expect(socket.out).not.toContain('stream:error');
  });

  it('the rate shaper pauses reading when the bucket is empty and resumes when it refills', async () => {
    const { clock, connect } = await setup({ shaperBytesPerSecond: 1000, shaperBurstBytes: 1000 });
    const { socket } = await connect();
    socket.feed(HEADER); // ~120 bytes: within the burst
    await settle();
    expect(socket.paused).toBe(false);
    socket.feed(' '.repeat(2020)); // whitespace keep-alives: ~1140 bytes over the bucket
    await settle();
    expect(socket.paused).toBe(true);
    clock.advance(1000);
    await settle();
    expect(socket.paused).toBe(true);
    clock.advance(200);
    await settle();
    expect(socket.paused).toBe(false);
  });

  it('PLAIN, bind, then replaced: conflict "Replaced by new connection" and the session row is gone', async () => {
    const { login, sm, system } = await setup();
    const { socket, ref } = await login('laptop');
    expect(socket.out).toContain("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    expect(await sm.userResources('alice', 'localhost')).toEqual(['laptop']);
    system.send(ref, REPLACED);
    await settle();
    expect(socket.out).toContain(
      "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error></stream:stream>",
    );
    expect(await sm.userResources('alice', 'localhost')).toEqual([]);
    expect(system.isAlive(ref)).toBe(false);
  });

  it('kick runs sm_kick_user and sends policy-violation', async () => {
    const { login, hooks, system } = await setup();
    const kicked: string[] = [];
    hooks.add('sm_kick_user', 'localhost', (u, s) => void kicked.push(`${u}@${s}`), 50);
    const { socket, ref } = await login('k');
    system.send(ref, KICK);
    await settle();
    expect(socket.out).toContain('<policy-violation');
    expect(kicked).toEqual(['alice@localhost']);
  });

  it.each([
    ['closenew', 'conflict error, no second session'],
    ['setresource', 'a generated resource'],
  ] as const)('resource_conflict %s: %s (spec §4.1)', async (policy, _what) => {
    const { login, sm } = await setup({ resourceConflict: policy });
    await login('same');
    const second = await login('same');
    const resources = await sm.userResources('alice', 'localhost');
    if (policy === 'closenew') {
      expect(second.socket.out).toContain('<iq type="error" id="b1"');
      expect(second.socket.out).toContain('<conflict');
      expect(resources).toEqual(['same']);
    } else {
      expect(second.socket.out).not.toContain('<jid>alice@localhost/same</jid>');
      expect(resources).toHaveLength(2);
    }
  });

  it('a wrong password three times closes with not-authorized', async () => {
    const { connect } = await setup();
    const { socket } = await connect();
    socket.feed(HEADER);
    for (let i = 0; i < 3; i++) socket.feed(plain('alice', 'nope'));
    await settle();
    expect(socket.out.match(/<failure/g)).toHaveLength(3);
    expect(socket.out).toContain("<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
  });

  it('output of one mailbox drain leaves in one write: header and features; failures then the stream error', async () => {
    const { connect } = await setup();
    const a = await connect();
    a.socket.feed(HEADER);
    await settle();
    expect(a.socket.writes).toBe(1);
    expect(a.socket.out).toMatch(
      /^<\?xml version='1.0'\?><stream:stream .*<stream:features>.*<\/stream:features>$/,
    );
    // Three failures and the closing stream error are produced in one drain: nothing written
    // before the close is lost, and the whole lot is one end() after the header's write.
    const b = await connect();
    b.socket.feed(HEADER + plain('alice', 'nope').repeat(3));
    await settle();
    expect(b.socket.writes).toBe(0);
    expect(b.socket.ended).toBe(true);
    expect(b.socket.out.match(/<failure/g)).toHaveLength(3);
    expect(b.socket.out.indexOf('<failure')).toBeLessThan(b.socket.out.indexOf('<stream:error>'));
    expect(b.socket.out.endsWith('</stream:stream>')).toBe(true);
  });

  it('a socket closing mid-session closes the session (no stream write)', async () => {
    const { login, sm } = await setup();
    const { socket } = await login('gone');
    const before = socket.out.length;
    socket.emit('close');
    await settle();
    expect(await sm.userResources('alice', 'localhost')).toEqual([]);
    expect(socket.out.length).toBe(before);
  });
});
