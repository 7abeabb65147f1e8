import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import { Hooks } from '@otp-chat/event-bus';
import type { Jid } from '@otp-chat/jid';
import {
  type Backend,
  DEFAULTS as DEFAULTS_SM,
  KICK,
  MemoryBackend,
  REPLACED,
  type Session,
  SessionManager,
} from '@otp-chat/session-manager';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthThrottle } from '../src/AuthThrottle.ts';
import { c2sConnectionServer } from '../src/C2SConnection.ts';
import type { C2SOptions } from '../src/C2SOptions.ts';
import { DEFAULTS } from '../src/DEFAULTS.ts';
import type { C2SHost } from '../src/internal/C2SHost.ts';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { scramDecoy } from '../src/Scram.ts';

/** A socket double: records writes, pause/resume and closing. */
class FakeSocket extends EventEmitter {
  out = '';
  /** Calls to `write` (each one a system call on a real socket). */
  writes = 0;
  paused = false;
  ended = false;
  destroyed = false;
  remoteAddress = '127.0.0.1';
  /** Set to simulate a client that does not read: the socket buffers and asks to wait for 'drain'. */
  writableNeedDrain = false;
  writableLength = 0;
  /** Callbacks of writes not yet "taken by the kernel" (called by `take` or `fail`). */
  callbacks: Array<(error?: Error | null) => void> = [];
  write(data: string, callback?: (error?: Error | null) => void): boolean {
    this.out += data;
    this.writes++;
    if (callback !== undefined) this.callbacks.push(callback);
    return true;
  }
  /** The kernel took every pending write. */
  take(): void {
    for (const cb of this.callbacks.splice(0)) cb(null);
  }
  /** The socket died with writes pending (Node calls their callbacks with an error). */
  fail(): void {
    for (const cb of this.callbacks.splice(0)) cb(new Error('ERR_STREAM_DESTROYED'));
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

async function setup(options: Partial<C2SOptions> = {}, backend?: Backend) {
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
    ...(backend === undefined ? {} : { backends: { localhost: backend } }),
  });
  const users = new MemoryUserStore();
  users.register('alice', 'localhost', 'secret');
  /** What the connection routed again, and how many sessions existed at that moment. */
  const rerouted: Array<{ id: string; sessions: number }> = [];
  const host: C2SHost = {
    listener: { starttls: 'none', conn: 'c2s', tls: undefined, startTls: undefined },
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
      allowPlainWithoutTls: true,
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
      streamManagement: DEFAULTS.streamManagement,
      resumeTimeoutMs: DEFAULTS.resumeTimeoutMs,
      maxAckQueue: DEFAULTS.maxAckQueue,
      ...options,
    },
    route: (stanza: Element, _to: Jid) => void sm.route(stanza),
    reroute: (stanza: Element) => {
      rerouted.push({ id: String(stanza.attrs.id), sessions: sm.connectedUsersNumber() as number });
    },
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
  return { clock, system, sm, hooks, host, connect, login, rerouted };
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
      "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Replaced by new connection</text></stream:error></stream:stream>",
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
  ] as const)('resource_conflict %s: %s (ejabberd_c2s:bind/2)', async (policy, _what) => {
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

  // ejabberd's pre_auth_max_stanza_size, then max_stanza_size: the largest stanza a connection
  // takes, counted in bytes as they arrive, here a stanza that arrives whole in one socket read.
  describe('the stanza size limit at the byte, for a stanza read in one chunk', () => {
    const TOO_BIG =
      "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>XML stanza is too big</text></stream:error>";
    /** `head` + filler + `tail`, exactly `bytes` UTF-8 bytes long. */
    const exactly = (bytes: number, head: string, tail: string) => {
      const s = `${head}${'x'.repeat(bytes - Buffer.byteLength(head + tail))}${tail}`;
      expect(Buffer.byteLength(s)).toBe(bytes);
      return s;
    };
    const PRE = DEFAULTS.preAuthMaxStanzaSize;

    it.each([
      [PRE, true],
      [PRE + 1, false],
    ])(
      `before authentication (limit ${PRE} by default): an <auth/> of %i bytes, accepted: %s`,
      async (size, accepted) => {
        const { connect } = await setup();
        const { socket } = await connect();
        socket.feed(HEADER);
        // PLAIN credentials, padded with an attribute ("é€" count two and three bytes).
        const credentials = Buffer.from('\0alice\0secret').toString('base64');
        const head = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN' pad='é€";
        socket.feed(exactly(size, head, `'>${credentials}</auth>`));
        await settle();
        expect(socket.out.includes('<success')).toBe(accepted);
        expect(socket.out.includes(TOO_BIG)).toBe(!accepted);
      },
    );

    it.each([
      [12_000, true],
      [12_001, false],
    ])(
      'after authentication (maxStanzaSize 12000): a <message/> to itself of %i bytes, delivered: %s',
      async (size, accepted) => {
        const { login } = await setup({ maxStanzaSize: 12_000 });
        const { socket } = await login('r');
        socket.out = '';
        socket.feed(
          exactly(size, "<message to='alice@localhost/r' type='chat'><body>é€😀", 'end</body></message>'),
        );
        await settle();
        expect(socket.out.includes('end</body></message>')).toBe(accepted);
        expect(socket.out.includes(TOO_BIG)).toBe(!accepted);
      },
    );
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

  const message = (id: string, body = 'hi') =>
    xml(
      'message',
      { to: 'alice@localhost/r', from: 'bob@localhost/x', type: 'chat', id },
      xml('body', {}, body),
    );
  const route = (id: string, smCopy = false, body?: string) => ({
    type: 'route' as const,
    stanza: message(id, body),
    smCopy,
  });

  it('routed stanzas still in the mailbox at the close are routed again once the session row is gone (bounce_message_queue)', async () => {
    const { login, system, rerouted } = await setup();
    const { socket, ref } = await login('r');
    system.send(ref, route('m1'));
    system.send(ref, REPLACED);
    system.send(ref, route('m2'));
    system.send(ref, route('m3', true)); // an sm_copy duplicate: the primary went elsewhere
    await settle();
    await settle();
    expect(socket.out).toContain('id="m1"');
    expect(socket.out).not.toContain('id="m2"');
    expect(rerouted).toEqual([{ id: 'm2', sessions: 0 }]);
    expect(system.isAlive(ref)).toBe(false);
  });

  it('a client that does not read: past maxSendQueueBytes, policy-violation, and nothing it was not given is lost', async () => {
    const { login, system, rerouted, sm } = await setup({ maxSendQueueBytes: 10_000 });
    const { socket, ref } = await login('r');
    socket.writableNeedDrain = true; // the kernel buffer is full: the client is not reading
    const body = 'z'.repeat(1000);
    for (let i = 0; i < 30; i++) system.send(ref, route(`q${i}`, false, body));
    await settle();
    await settle();
    expect(socket.out).toContain("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    expect(socket.out).toContain('Too many pending stanzas');
    expect(socket.out).not.toContain('<message');
    expect(rerouted.map((r) => r.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `q${i}`).sort());
    expect(rerouted.every((r) => r.sessions === 0)).toBe(true);
    expect(await sm.connectedUsersNumber()).toBe(0);
  });

  it('output waits for drain while the socket is full, then leaves in order', async () => {
    const { login, system, rerouted } = await setup();
    const { socket, ref } = await login('r');
    const before = socket.out.length;
    socket.writableNeedDrain = true;
    system.send(ref, route('d1'));
    system.send(ref, route('d2'));
    await settle();
    expect(socket.out.length).toBe(before);
    socket.writableNeedDrain = false;
    socket.emit('drain');
    expect(socket.out.indexOf('id="d1"')).toBeGreaterThan(before);
    expect(socket.out.indexOf('id="d2"')).toBeGreaterThan(socket.out.indexOf('id="d1"'));
    socket.take();
    expect(rerouted).toEqual([]);
  });

  it('a stanza the socket never took (it died) is routed again, after the session is closed', async () => {
    const { login, system, rerouted } = await setup();
    const { socket, ref } = await login('r');
    system.send(ref, route('w1'));
    await settle();
    expect(socket.callbacks).toHaveLength(1);
    socket.fail(); // the write failed: held until the session row is gone
    expect(rerouted).toEqual([]);
    socket.emit('close');
    await settle();
    expect(rerouted).toEqual([{ id: 'w1', sessions: 0 }]);
  });

  it('while the bind waits for a frozen backend, reading pauses past maxPendingInputBytes and resumes after', async () => {
    class FrozenBackend extends MemoryBackend {
      frozen = true;
      override setSession(session: Session): void | Promise<void> {
        if (this.frozen) return new Promise<void>(() => {});
        return super.setSession(session);
      }
    }
    const backend = new FrozenBackend();
    const { clock, connect } = await setup({ maxPendingInputBytes: 4096 }, backend);
    const { socket } = await connect();
    socket.feed(HEADER);
    socket.feed(plain('alice', 'secret'));
    socket.feed(HEADER);
    socket.feed(bindIq('r'));
    await settle();
    expect(socket.out).not.toContain('<jid>');
    for (let i = 0; i < 10; i++) socket.feed(' '.repeat(1000)); // keep-alives pile up unparsed
    expect(socket.paused).toBe(true);
    clock.advance(DEFAULTS_SM.backendTimeoutMs); // the bind fails with a timeout…
    await settle();
    await settle();
    expect(socket.out).toContain('<internal-server-error');
    expect(socket.paused).toBe(false); // …and the backlog is read
  });
});
