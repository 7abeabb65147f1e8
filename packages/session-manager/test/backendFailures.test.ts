import { Hooks } from '@otp-chat/event-bus';
import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import type { BackendInitContext } from '../src/Backend.ts';
import { BackendTimeoutError } from '../src/errors.ts';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import type { Session } from '../src/Session.ts';
import { errorCondition } from '../src/stanzaError.ts';
import { chat, connect, HOST, settle, startSm } from './harness.ts';

/**
 * A memory backend double whose writes, per-user reads and deletes can be made to fail (by
 * throwing or by rejecting), and that records every write and delete it is asked for.
 */
class FlakyBackend extends MemoryBackend {
  readonly calls: string[] = [];
  failSet: 'throws' | 'rejects' | undefined;
  failDelete: 'throws' | 'rejects' | undefined;
  failUserRead: 'throws' | 'rejects' | undefined;

  override setSession(row: Session): void | Promise<void> {
    this.calls.push(`set ${row.usr.join('/')} ${row.sid.counter}`);
    if (this.failSet === 'throws') throw new Error('store down (set)');
    if (this.failSet === 'rejects') return Promise.reject(new Error('store down (set)'));
    super.setSession(row);
  }

  override deleteSession(row: Session): void | Promise<void> {
    this.calls.push(`delete ${row.usr.join('/')} ${row.sid.counter} prio=${String(row.priority)}`);
    if (this.failDelete === 'throws') throw new Error('store down (delete)');
    if (this.failDelete === 'rejects') return Promise.reject(new Error('store down (delete)'));
    super.deleteSession(row);
  }

  override getSessions(a?: string, b?: string): readonly Session[] {
    if (b !== undefined && this.failUserRead === 'throws') throw new Error('store down (read)');
    return super.getSessions(a as string, b as string);
  }
}

/** `getSessions(user, server)` rejecting instead of throwing (the network-backend shape). */
function rejectingUserReads(backend: FlakyBackend): void {
  const read = backend.getSessions.bind(backend);
  backend.getSessions = ((a?: string, b?: string) => {
    if (b !== undefined && backend.failUserRead === 'rejects') {
      return Promise.reject(new Error('store down (read)'));
    }
    return read(a as string, b as string);
  }) as FlakyBackend['getSessions'];
}

const MODES = ['throws', 'rejects'] as const;

describe('openSession when setSession fails: the refused row is deleted (compensation for backends that replay failed writes, processone/ejabberd#1271)', () => {
  for (const mode of MODES) {
    it(`setSession ${mode}: deleteSession(row) is called, then the call fails with the write's error; no hook, no row`, async () => {
      const backend = new FlakyBackend();
      const hooks = new Hooks();
      const ran: string[] = [];
      hooks.add('sm_register_connection_hook', HOST, () => void ran.push('register'), 50);
      const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
      const errors: string[] = [];
      sm.events.on('backend_error', (e) => errors.push(e.operation));
      backend.failSet = mode;
      const conn = connect(sm, 'alice', 'phone');
      await expect(conn).rejects.toThrow('store down (set)');
      // The sid is the one of the refused connection: the same row, written then deleted.
      expect(backend.calls).toHaveLength(2);
      const [set, del] = backend.calls as [string, string];
      expect(set).toMatch(/^set alice\/example\.com\/phone \d+$/);
      expect(del.startsWith(`delete ${set.slice('set '.length)} `)).toBe(true);
      expect(errors).toEqual(['setSession']);
      expect(ran).toEqual([]);
      expect(backend.size).toBe(0);
      expect(await sm.getUserResources('alice', HOST)).toEqual([]);
      await sm.stop();
    });

    it(`setSession ${mode} and the compensating delete fails too: reported, and the call still fails with the write's error`, async () => {
      const backend = new FlakyBackend();
      const { sm } = await startSm({ backends: { [HOST]: backend } });
      const errors: string[] = [];
      sm.events.on('backend_error', (e) => errors.push(e.operation));
      backend.failSet = mode;
      backend.failDelete = mode;
      await expect(connect(sm, 'alice', 'phone')).rejects.toThrow('store down (set)');
      expect(backend.calls.map((c) => c.split(' ')[0])).toEqual(['set', 'delete']);
      expect(errors).toEqual(['setSession', 'deleteSession']);
      await sm.stop();
    });
  }

  it('a successful open deletes nothing', async () => {
    const backend = new FlakyBackend();
    const { sm } = await startSm({ backends: { [HOST]: backend } });
    await connect(sm, 'alice', 'phone');
    expect(backend.calls.map((c) => c.split(' ')[0])).toEqual(['set']);
    await sm.stop();
  });
});

describe('closeSession when the user read fails: the row is still deleted by sid and the hook still runs (processone/ejabberd#1271)', () => {
  for (const mode of MODES) {
    it(`getSessions(user, server) ${mode}: deleteSession by sid with priority undefined, sm_remove_connection_hook with {} info`, async () => {
      const backend = new FlakyBackend();
      rejectingUserReads(backend);
      const hooks = new Hooks();
      const ran: string[] = [];
      hooks.add(
        'sm_remove_connection_hook',
        HOST,
        (sid, j, info) => void ran.push(`${j.toString()} ${sid.counter} ${JSON.stringify(info)}`),
        50,
      );
      const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
      const errors: string[] = [];
      sm.events.on('backend_error', (e) => errors.push(e.operation));
      const conn = await connect(sm, 'Alice', 'Phone', { priority: 5, info: { conn: 'c2s' } });
      backend.calls.length = 0;
      backend.failUserRead = mode;
      await sm.closeSession(conn.sid, 'Alice', HOST, 'Phone');
      // Deleted by sid, from the prepared user/server/resource; the priority is unknown.
      expect(backend.calls).toEqual([`delete alice/example.com/Phone ${conn.sid.counter} prio=undefined`]);
      expect(backend.size).toBe(0);
      expect(errors).toEqual(['getSessions']);
      expect(ran).toEqual([`Alice@example.com/Phone ${conn.sid.counter} {}`]);
      await sm.stop();
    });

    it(`getSessions(user, server) ${mode} and the delete fails too: both reported, the hook still runs, close resolves`, async () => {
      const backend = new FlakyBackend();
      rejectingUserReads(backend);
      const hooks = new Hooks();
      const ran: string[] = [];
      hooks.add('sm_remove_connection_hook', HOST, () => void ran.push('remove'), 50);
      const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
      const errors: string[] = [];
      sm.events.on('backend_error', (e) => errors.push(e.operation));
      const conn = await connect(sm, 'alice', 'phone');
      backend.failUserRead = mode;
      backend.failDelete = mode;
      await sm.closeSession(conn.sid, 'alice', HOST, 'phone');
      expect(errors).toEqual(['getSessions', 'deleteSession']);
      expect(ran).toEqual(['remove']);
      await sm.stop();
    });
  }

  it('a successful read that finds no row deletes nothing (closing twice is a no-op for the store)', async () => {
    const backend = new FlakyBackend();
    const { sm } = await startSm({ backends: { [HOST]: backend } });
    const conn = await connect(sm, 'alice', 'phone');
    await sm.closeSession(conn.sid, 'alice', HOST, 'phone');
    await sm.closeSession(conn.sid, 'alice', HOST, 'phone');
    expect(backend.calls.filter((c) => c.startsWith('delete'))).toHaveLength(1);
    await sm.stop();
  });
});

/** A memory backend that can freeze (calls never answer) or lose every row, and calls storeLost. */
class FreezableBackend extends MemoryBackend {
  frozen = false;
  context: BackendInitContext | undefined;
  override init(context?: BackendInitContext): void {
    this.context = context;
  }
  override setSession(row: Session): void | Promise<void> {
    if (this.frozen) return new Promise<void>(() => {});
    super.setSession(row);
  }
  override getSessions(a?: string, b?: string): readonly Session[] {
    if (this.frozen && b !== undefined) return new Promise<never>(() => {}) as never;
    return super.getSessions(a as string, b as string);
  }
  /** The store restarted empty. */
  loseEverything(): void {
    for (const row of super.getSessions()) super.deleteSession(row);
  }
}

describe('backend outages (beyond ejabberd: bounded, and never a silent drop)', () => {
  it('a backend call that never answers fails with BackendTimeoutError after backendTimeoutMs', async () => {
    const backend = new FreezableBackend();
    const { sm, clock } = await startSm({ backends: { [HOST]: backend }, backendTimeoutMs: 1000 });
    const errors: unknown[] = [];
    sm.events.on('backend_error', (e) => errors.push(e.error));
    backend.frozen = true;
    const open = connect(sm, 'alice', 'phone');
    const outcome = open.then(
      () => 'opened',
      (error: unknown) => error,
    );
    await settle();
    clock.advance(999);
    await settle();
    expect(errors).toEqual([]);
    clock.advance(100); // one 50 ms bucket late at most
    const error = await outcome;
    expect(error).toBeInstanceOf(BackendTimeoutError);
    expect(error).toMatchObject({ backend: 'memory', operation: 'setSession', timeoutMs: 1000 });
    await sm.stop();
  });

  it('a route whose rows cannot be read: a message gets internal-server-error, a local full JID is still delivered, an IQ to a bare JID still reaches the IQ table, a presence is dropped', async () => {
    const backend = new FlakyBackend();
    const { sm, replies } = await startSm({ backends: { [HOST]: backend } });
    sm.registerIqHandler(HOST, 'urn:xmpp:ping', (iq) =>
      xml('iq', { type: 'result', id: String(iq.attrs.id), to: String(iq.attrs.from) }),
    );
    const bob = await connect(sm, 'bob', 'phone', { priority: 1 });
    backend.failUserRead = 'throws';
    await sm.route(chat(`bob@${HOST}`, 'to bare'));
    await sm.route(chat(`bob@${HOST}/phone`, 'to full'));
    await sm.route(
      xml('iq', { type: 'get', id: 'q', to: `bob@${HOST}`, from: 'x@y/z' }, xml('ping', 'urn:xmpp:ping')),
    );
    await sm.route(xml('presence', { to: `bob@${HOST}`, from: 'x@y/z' }));
    const routed = await bob.routed();
    expect(routed.map((r) => r.stanza.getChildText('body'))).toEqual(['to full']);
    expect(replies.map((r) => [r.name, r.attrs.type, errorCondition(r) ?? ''])).toEqual([
      ['message', 'error', 'internal-server-error'],
      ['iq', 'result', ''],
    ]);
    await sm.stop();
  });

  it('the store lost this node’s rows: each live local connection is asked to re-register, and reregisterSession writes its row again without a hook', async () => {
    const backend = new FreezableBackend();
    const hooks = new Hooks();
    const registered: string[] = [];
    hooks.add('sm_register_connection_hook', HOST, (_sid, j) => void registered.push(j.toString()), 50);
    const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
    const phone = await connect(sm, 'alice', 'phone', { priority: 5 });
    const laptop = await connect(sm, 'alice', 'laptop');
    const gone = await connect(sm, 'bob', 'x');
    await sm.system.stop(gone.ref, 'normal'); // its close removes its row and its local entry
    expect(sm.localSessionCount).toBe(2);
    backend.loseEverything();
    expect(await sm.connectedUsersNumber()).toBe(0);
    backend.context!.storeLost!();
    for (const c of [phone, laptop]) {
      expect(await c.received()).toContainEqual({ type: 'reregister' });
    }
    // What the c2s connection does on `reregister`: its sid, resource, priority and info.
    await sm.reregisterSession(phone.sid, 'alice', HOST, 'phone', 5, {});
    await sm.reregisterSession(laptop.sid, 'alice', HOST, 'laptop', undefined, {});
    expect((await sm.userResources('alice', HOST)).sort()).toEqual(['laptop', 'phone']);
    expect(await sm.getUserPresentResources('alice', HOST)).toEqual([{ priority: 5, resource: 'phone' }]);
    expect(registered).toEqual([`alice@${HOST}/phone`, `alice@${HOST}/laptop`, `bob@${HOST}/x`]);
    await sm.stop();
  });

  it('at shut-down, the connections this node holds are told system-shutdown even when the store cannot list them', async () => {
    const backend = new FreezableBackend();
    const { sm, clock } = await startSm({ backends: { [HOST]: backend }, backendTimeoutMs: 1000 });
    const phone = await connect(sm, 'alice', 'phone', { closeOnControl: false });
    backend.frozen = true;
    backend.getSessions = (() => new Promise<never>(() => {})) as never; // listing hangs too
    const stopped = sm.stop();
    await settle();
    expect(await phone.received()).toContainEqual({ type: 'system-shutdown' });
    clock.advance(1100);
    await stopped;
  });
});
