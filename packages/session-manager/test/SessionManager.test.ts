import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { Commands, Hooks } from '@otp-chat/event-bus';
import { jid } from '@otp-chat/jid';
import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/Backend.ts';
import { KICK, REPLACED, SYSTEM_SHUTDOWN } from '../src/ConnectionMessage.ts';
import { BackendInitError, IqDecodeError } from '../src/errors.ts';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import type { Session } from '../src/Session.ts';
import { ignoreSmBounce, SessionManager } from '../src/SessionManager.ts';
import { errorCondition, errorText } from '../src/stanzaError.ts';
import { makeRow } from '../src/testing/index.ts';
import { chat, connect, HOST, presence, settle, startSm } from './harness.ts';

describe('SessionManager start-up and shut-down (ejabberd_sm:init/1, terminate/2)', () => {
  it('adds its hooks with the sequence numbers of ejabberd_sm and registers its commands', async () => {
    const hooks = new Hooks();
    const commands = new Commands({ hooks });
    const { sm } = await startSm({ hooks, commands });
    expect(hooks.handlers('roster_in_subscription', HOST).map((h) => h.seq)).toEqual([20]);
    expect(hooks.handlers('offline_message_hook', HOST).map((h) => h.seq)).toEqual([100]);
    expect(hooks.handlers('bounce_sm_packet', HOST).map((h) => h.seq)).toEqual([100]);
    expect(hooks.handlers('remove_user', HOST).map((h) => h.seq)).toEqual([100]);
    const names = commands.list().map((c) => `${c.name}/${c.version}`);
    expect(names).toEqual([
      'connected_users/0',
      'connected_users_info/0',
      'connected_users_number/0',
      'connected_users_vhost/0',
      'get_presence/0',
      'kick_session/0',
      'kick_user/0',
      'kick_user/2',
      'kick_users/0',
      'num_resources/0',
      'resource_num/0',
      'set_presence/0',
      'set_presence/1',
      'status_list/0',
      'status_list/3',
      'status_list_host/0',
      'status_list_host/3',
      'status_num/0',
      'status_num_host/0',
      'user_resources/0',
      'user_sessions_info/0',
    ]);
    expect(new Set(commands.list().map((c) => c.definer))).toEqual(
      new Set(['session_manager', 'mod_admin_extra']),
    );
    await sm.stop();
    expect(hooks.handlers('roster_in_subscription', HOST)).toEqual([]);
    expect(hooks.handlers('bounce_sm_packet', HOST)).toEqual([]);
    expect(commands.list()).toEqual([]);
  });

  it('runs each backend init once per distinct backend, and stop() on shut-down', async () => {
    const calls: string[] = [];
    class Recording extends MemoryBackend {
      override init(): void {
        calls.push('init');
      }
      override stop(): void {
        calls.push('stop');
        super.stop();
      }
    }
    const shared = new Recording();
    const { sm } = await startSm({
      hosts: [HOST, 'other.example'],
      backends: { [HOST]: shared, 'other.example': shared },
    });
    expect(calls).toEqual(['init']);
    await sm.stop();
    expect(calls).toEqual(['init', 'stop']);
  });

  it('a backend that fails to start fails the start with that reason', async () => {
    const boom = new Error('redis down');
    const failing: Backend = Object.assign(new MemoryBackend(), {
      name: 'failing',
      init: () => Promise.reject(boom),
    });
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const err = await SessionManager.start({ system, hosts: [HOST], backends: { [HOST]: failing } }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(BackendInitError);
    expect(err.backend).toBe('failing');
    expect(err.cause).toBe(boom);
  });

  it('terminate sends system-shutdown to every local session (ejabberd_sm:terminate/2)', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const b = await connect(sm, 'bob', 'b', { closeOnControl: false });
    await sm.stop();
    expect(await a.received()).toContainEqual(SYSTEM_SHUTDOWN);
    expect(await b.received()).toContainEqual(SYSTEM_SHUTDOWN);
  });
});

describe('sessions API (ejabberd_sm)', () => {
  it('openSession runs sm_register_connection_hook; closeSession runs sm_remove_connection_hook, even without a row', async () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    hooks.add(
      'sm_register_connection_hook',
      HOST,
      (sid, j, info) => {
        seen.push(`open ${j.toString()} ${sid.counter} ${JSON.stringify(info)}`);
      },
      50,
    );
    hooks.add(
      'sm_remove_connection_hook',
      HOST,
      (sid, j, info) => {
        seen.push(`close ${j.toString()} ${sid.counter} ${JSON.stringify(info)}`);
      },
      50,
    );
    const { sm } = await startSm({ hooks });
    const a = await connect(sm, 'Alice', 'res', { info: { conn: 'c2s' } });
    await sm.closeSession(a.sid, 'alice', HOST, 'res');
    await sm.closeSession(a.sid, 'alice', HOST, 'res');
    expect(seen).toEqual([
      `open Alice@example.com/res ${a.sid.counter} {"conn":"c2s"}`,
      `close alice@example.com/res ${a.sid.counter} {"conn":"c2s"}`,
      `close alice@example.com/res ${a.sid.counter} {}`,
    ]);
  });

  it('normalizes names: getUserResources, isExistingResource, getSessionRef, getSessionSid(s)', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'Phone');
    const b = await connect(sm, 'alice', 'desk');
    expect((await sm.getUserResources('ALICE', 'Example.COM')).sort()).toEqual(['Phone', 'desk'].sort());
    expect(await sm.isExistingResource('Alice', HOST, 'Phone')).toBe(true);
    expect(await sm.isExistingResource('alice', HOST, 'phone')).toBe(false);
    expect((await sm.getSessionRef('alice', HOST, 'desk'))?.equals(b.ref)).toBe(true);
    expect((await sm.getSessionSid('alice', HOST, 'Phone'))?.equals(a.sid)).toBe(true);
    expect((await sm.getSessionSids('alice', HOST)).length).toBe(2);
    expect(await sm.getSessionRef('alice', HOST, 'nope')).toBeUndefined();
  });

  it('setPresence / unsetPresence change the priority, keep info, run their hooks; notfound for another sid', async () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    hooks.add(
      'set_presence_hook',
      HOST,
      (u, s, r) => {
        seen.push(`set ${u} ${s} ${r}`);
      },
      50,
    );
    hooks.add(
      'unset_presence_hook',
      HOST,
      (u, s, r, status) => {
        seen.push(`unset ${u} ${s} ${r} ${status}`);
      },
      50,
    );
    const { sm } = await startSm({ hooks });
    const a = await connect(sm, 'alice', 'r', { info: { conn: 'c2s' } });
    expect(await sm.getUserPresentResources('alice', HOST)).toEqual([]);
    expect(await sm.setPresence(a.sid, 'alice', HOST, 'r', -2, presence(-2))).toBe('ok');
    expect(await sm.getUserPresentResources('alice', HOST)).toEqual([{ priority: -2, resource: 'r' }]);
    const info = await sm.getUserInfo('alice', HOST, 'r');
    expect(info).not.toBe('offline');
    expect(info !== 'offline' && info.info).toEqual({ conn: 'c2s' });
    expect(await sm.unsetPresence(a.sid, 'alice', HOST, 'r', 'bye')).toBe('ok');
    expect(await sm.getUserPresentResources('alice', HOST)).toEqual([]);
    expect(await sm.getUserResources('alice', HOST)).toEqual(['r']);
    const other = sm.makeSid(a.ref);
    expect(await sm.setPresence(other, 'alice', HOST, 'r', 1, presence())).toBe('notfound');
    expect(seen).toEqual(['set alice example.com r', 'unset alice example.com r bye']);
  });

  it('closeSessionUnsetPresence closes and runs unset_presence_hook', async () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    hooks.add(
      'unset_presence_hook',
      HOST,
      (_u, _s, r, status) => {
        seen.push(`${r} ${status}`);
      },
      50,
    );
    const { sm } = await startSm({ hooks });
    const a = await connect(sm, 'alice', 'r', { priority: 1 });
    await sm.closeSessionUnsetPresence(a.sid, 'alice', HOST, 'r', 'gone');
    expect(await sm.getUserResources('alice', HOST)).toEqual([]);
    expect(seen).toEqual(['r gone']);
  });

  it('setUserInfo / delUserInfo only touch rows owned by the caller (set_user_info/5: Pid == self())', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'r');
    const stranger = (await connect(sm, 'bob', 'x')).ref;
    expect(await sm.setUserInfo('alice', HOST, 'r', 'carboncopy', true, stranger)).toBe('not_owner');
    expect(await sm.setUserInfo('alice', HOST, 'zzz', 'carboncopy', true, a.ref)).toBe('notfound');
    expect(await sm.setUserInfo('alice', HOST, 'r', 'carboncopy', true, a.ref)).toBe('ok');
    let info = await sm.getUserInfo('alice', HOST, 'r');
    expect(info !== 'offline' && info.info.carboncopy).toBe(true);
    expect(await sm.delUserInfo('alice', HOST, 'r', 'carboncopy', a.ref)).toBe('ok');
    info = await sm.getUserInfo('alice', HOST, 'r');
    expect(info !== 'offline' && 'carboncopy' in info.info).toBe(false);
    expect(await sm.getUserInfo('alice', HOST, 'nope')).toBe('offline');
  });

  it('lists: dirtyGetSessionsList, getVhSessionList/Number, connectedUsers (sorted), connectedUsersNumber', async () => {
    const { sm } = await startSm();
    await connect(sm, 'bob', 'b');
    await connect(sm, 'alice', 'a');
    expect(await sm.connectedUsers()).toEqual(['alice@example.com/a', 'bob@example.com/b']);
    expect(await sm.connectedUsersNumber()).toBe(2);
    expect(await sm.getVhSessionNumber(HOST)).toBe(2);
    expect((await sm.getVhSessionList(HOST)).sort()).toEqual([
      ['alice', HOST, 'a'],
      ['bob', HOST, 'b'],
    ]);
    expect((await sm.dirtyGetSessionsList()).length).toBe(2);
  });

  it('read-repair: a dead local connection row is dropped and deleted on read (ejabberd_sm:delete_dead/2)', async () => {
    const backend = new MemoryBackend();
    const { sm, system } = await startSm({ backends: { [HOST]: backend } });
    const a = await connect(sm, 'alice', 'r');
    system.exit(a.ref, 'kill'); // no terminate: no closeSession
    await settle();
    expect(backend.size).toBe(1);
    expect(await sm.getUserResources('alice', HOST)).toEqual([]);
    expect(backend.size).toBe(0);
  });

  it('rows of remote nodes are not liveness-checked; cleanNode removes them and runs the remove hook', async () => {
    const backend = new MemoryBackend();
    const hooks = new Hooks();
    const removed: string[] = [];
    hooks.add(
      'sm_remove_connection_hook',
      HOST,
      (_sid, j) => {
        removed.push(j.toString());
      },
      50,
    );
    const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
    backend.setSession(makeRow('carol', HOST, 'r', 1, { node: 'node2', priority: 0 }));
    expect(await sm.getUserResources('carol', HOST)).toEqual(['r']);
    expect(await sm.cleanNode('node2')).toBe(1);
    expect(await sm.getUserResources('carol', HOST)).toEqual([]);
    expect(removed).toEqual(['carol@example.com/r']);
  });

  it('cleanNode on a backend that yields batches: the hooks of a batch run before the next batch is removed', async () => {
    // A memory store that removes a node's rows two at a time (as the SQL backend does by the thousand).
    class BatchedBackend extends MemoryBackend {
      readonly events: string[] = [];
      // @ts-expect-error MemoryBackend narrows cleanNode to an array; this store yields batches.
      override async *cleanNode(node: string): AsyncGenerator<readonly Session[]> {
        for (;;) {
          const batch = (this.getSessions() as readonly Session[])
            .filter((r) => r.sid.ref.node === node)
            .slice(0, 2);
          if (batch.length === 0) return;
          for (const r of batch) this.deleteSession(r);
          this.events.push(`batch ${batch.length}`);
          yield batch;
        }
      }
    }
    const backend = new BatchedBackend();
    const hooks = new Hooks();
    hooks.add(
      'sm_remove_connection_hook',
      HOST,
      (_sid, j) => {
        backend.events.push(`hook ${j.luser}`);
      },
      50,
    );
    const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
    for (const [i, u] of ['a', 'b', 'c'].entries())
      backend.setSession(makeRow(u, HOST, 'r', i + 1, { node: 'node2' }));
    expect(await sm.cleanNode('node2')).toBe(3);
    expect(backend.events).toEqual(['batch 2', 'hook a', 'hook b', 'batch 1', 'hook c']);
    expect(backend.size).toBe(0);
  });

  it('a backend read error is reported as backend_error and answered as no sessions', async () => {
    const backend = new MemoryBackend();
    const { sm } = await startSm({ backends: { [HOST]: backend } });
    const errors: unknown[] = [];
    sm.events.on('backend_error', (e) => errors.push(e.operation));
    backend.getSessions = () => {
      throw new Error('down');
    };
    expect(await sm.getUserResources('alice', HOST)).toEqual([]);
    expect(errors).toEqual(['getSessions']);
  });
});

describe('replacement and limits (check_existing_resources/4, check_max_sessions/2, kick_user/2)', () => {
  it('row 1: same full JID: every older session gets `replaced`; openSession waits for it to end', async () => {
    const { sm } = await startSm();
    const old = await connect(sm, 'alice', 'r');
    const fresh = await connect(sm, 'alice', 'r');
    expect(await old.received()).toEqual([REPLACED]);
    expect(sm.system.isAlive(old.ref)).toBe(false);
    expect(await sm.getSessionSids('alice', HOST, 'r')).toEqual([fresh.sid]);
    expect(await fresh.received()).toEqual([]);
  });

  it('row 1: a replaced session that does not end is waited for replacedConnectionTimeoutMs, then left', async () => {
    const { sm, clock } = await startSm();
    const old = await connect(sm, 'alice', 'r', { closeOnControl: false });
    let done = false;
    const fresh = connect(sm, 'alice', 'r', { wait: true }).then((c) => {
      done = true;
      return c;
    });
    await settle();
    expect(done).toBe(false);
    clock.advance(999);
    await settle();
    expect(done).toBe(false);
    clock.advance(1);
    await fresh;
    expect(done).toBe(true);
    expect(await old.received()).toEqual([REPLACED]);
    expect((await sm.getSessionSids('alice', HOST, 'r')).length).toBe(2);
  });

  it('row 1: replacedConnectionTimeoutMs 0 sends replaced without waiting', async () => {
    const { sm } = await startSm({ replacedConnectionTimeoutMs: 0 });
    const old = await connect(sm, 'alice', 'r', { closeOnControl: false });
    await connect(sm, 'alice', 'r');
    expect(await old.received()).toEqual([REPLACED]);
  });

  it('row 1: the newest sid wins, not "self": an older sid opened later is the one replaced', async () => {
    const { sm } = await startSm({ replacedConnectionTimeoutMs: 0 });
    const conn = await connect(sm, 'alice', 'r', { closeOnControl: false });
    const olderSid = sm.makeSid(conn.ref); // made now...
    const newer = await connect(sm, 'alice', 'other', { closeOnControl: false });
    const newerSid = sm.makeSid(newer.ref);
    await sm.openSession(newerSid, 'bob', HOST, 'x');
    await sm.openSession(olderSid, 'bob', HOST, 'x', undefined, {}); // ...opened after a newer one
    expect((await conn.received()).filter((m) => m === REPLACED)).toHaveLength(1);
    expect((await newer.received()).filter((m) => m === REPLACED)).toHaveLength(0);
  });

  it('row 3: maxUserSessions exceeded kicks the oldest session, exactly one, with `replaced`', async () => {
    const { sm } = await startSm({ maxUserSessions: 2 });
    const s1 = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const s2 = await connect(sm, 'alice', 'b', { closeOnControl: false });
    const s3 = await connect(sm, 'alice', 'c', { closeOnControl: false });
    expect(await s1.received()).toEqual([REPLACED]);
    expect(await s2.received()).toEqual([]);
    expect(await s3.received()).toEqual([]);
  });

  it('rows 1 and 3: a replaced session that ended within the wait is not counted against maxUserSessions', async () => {
    // check_for_sessions_to_replace waits for the replaced connection, then check_max_sessions
    // reads the rows again: the replaced row is gone, so two rows for a limit of 2 kick nobody.
    const { sm } = await startSm({ maxUserSessions: 2, replacedConnectionTimeoutMs: 1000 });
    const other = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const old = await connect(sm, 'alice', 'b');
    const fresh = await connect(sm, 'alice', 'b');
    expect(await old.received()).toEqual([REPLACED]);
    expect(sm.system.isAlive(old.ref)).toBe(false);
    expect(await other.received()).toEqual([]);
    expect(await fresh.received()).toEqual([]);
    expect((await sm.getUserResources('alice', HOST)).sort()).toEqual(['a', 'b']);
  });

  it('rows 1 and 3: a replaced session still there after the wait is counted (the oldest is kicked)', async () => {
    const { sm, clock } = await startSm({ maxUserSessions: 2, replacedConnectionTimeoutMs: 1000 });
    const other = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const old = await connect(sm, 'alice', 'b', { closeOnControl: false });
    const fresh = connect(sm, 'alice', 'b');
    await settle();
    clock.advance(1000);
    await fresh;
    expect(await old.received()).toEqual([REPLACED]);
    expect(await other.received()).toEqual([REPLACED]); // three rows for a limit of 2: the oldest
  });

  it('row 1: when every replaced session has ended, the wait leaves no timer behind (wait_for_replaced_termination)', async () => {
    const { sm, clock } = await startSm({ replacedConnectionTimeoutMs: 1000 });
    const old = await connect(sm, 'alice', 'r');
    const timers = clock.pending();
    await connect(sm, 'alice', 'r');
    expect(sm.system.isAlive(old.ref)).toBe(false);
    expect(clock.pending()).toBe(timers);
  });

  it('row 3: maxUserSessions is per user and may be a function', async () => {
    const { sm } = await startSm({ maxUserSessions: (u) => (u === 'alice' ? 1 : 10) });
    const a1 = await connect(sm, 'alice', 'a');
    await connect(sm, 'alice', 'b');
    const b1 = await connect(sm, 'bob', 'a');
    await connect(sm, 'bob', 'b');
    expect(await a1.received()).toEqual([REPLACED]);
    expect(await b1.received()).toEqual([]);
  });

  it('row 5: admin kick_user sends `kick` to the newest session of each resource', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const b = await connect(sm, 'alice', 'b', { closeOnControl: false });
    expect(await sm.commands.execute('kick_user', { user: 'alice', host: HOST }, { kind: 'local' }, 0)).toBe(
      2,
    );
    expect(await a.received()).toEqual([KICK]);
    expect(await b.received()).toEqual([KICK]);
    expect(
      await sm.commands.execute('kick_user', { user: 'alice', host: HOST }, { kind: 'local' }, 2),
    ).toEqual({
      ok: 'Kicked sessions: 2',
    });
    expect(await sm.kickUser('alice', HOST, 'zzz')).toBe(false);
  });

  it('row 5: kick_users kicks every session of a host and returns the number listed', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const b = await connect(sm, 'bob', 'b', { closeOnControl: false });
    expect(await sm.commands.execute('kick_users', { host: HOST }, { kind: 'local' })).toBe(2);
    expect(await a.received()).toEqual([KICK]);
    expect(await b.received()).toEqual([KICK]);
  });

  it('row 6: remove_user sends {exit, "User removed"} to every resource; kick_session sends {exit, reason}', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const b = await connect(sm, 'alice', 'b', { closeOnControl: false });
    await sm.hooks.run('remove_user', HOST, 'alice', HOST);
    expect(await a.received()).toEqual([{ type: 'exit', reason: 'User removed' }]);
    expect(await b.received()).toEqual([{ type: 'exit', reason: 'User removed' }]);
    await sm.commands.execute(
      'kick_session',
      { user: 'alice', host: HOST, resource: 'a', reason: 'bye' },
      { kind: 'local' },
    );
    expect((await a.received())[1]).toEqual({ type: 'exit', reason: 'bye' });
    expect(await b.received()).toHaveLength(1);
  });

  it("row 4 (closenew) is the connection's decision: isExistingResource tells it", async () => {
    const { sm } = await startSm();
    await connect(sm, 'alice', 'a');
    expect(await sm.isExistingResource('alice', HOST, 'a')).toBe(true);
  });
});

describe('routing through the actor runtime (ejabberd_sm:route/1,2)', () => {
  it('delivers a chat to a full JID as {type: route, stanza, smCopy: false}', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a');
    const stanza = chat('alice@example.com/a');
    await sm.route(stanza);
    expect(await a.routed()).toEqual([{ type: 'route', stanza, smCopy: false }]);
  });

  it('bare-JID chat goes to the highest priority; ties get sm_copy except the greatest resource', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { priority: 5 });
    const b = await connect(sm, 'alice', 'b', { priority: 5 });
    const c = await connect(sm, 'alice', 'c', { priority: 1 });
    await sm.route(chat('alice@example.com'));
    expect((await a.routed()).map((m) => m.smCopy)).toEqual([true]);
    expect((await b.routed()).map((m) => m.smCopy)).toEqual([false]);
    expect(await c.routed()).toEqual([]);
  });

  it('offline: a chat nobody can take is bounced with service-unavailable "User session not found"', async () => {
    const { sm, replies } = await startSm();
    await connect(sm, 'alice', 'a', { priority: -1 });
    await sm.route(chat('alice@example.com'));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.attrs.to).toBe('bob@other.example/x');
    expect(replies[0]!.attrs.type).toBe('error');
    expect(errorCondition(replies[0]!)).toBe('service-unavailable');
    expect(errorText(replies[0]!)).toBe('User session not found');
  });

  it('offline: a module storing the message (offlined) stops the bounce', async () => {
    const { sm, replies } = await startSm();
    const stored: string[] = [];
    sm.hooks.add(
      'offline_message_hook',
      HOST,
      (acc) => {
        stored.push(acc.packet.attrs.id);
        return { ...acc, tag: 'offlined' };
      },
      50,
    );
    await sm.route(chat('alice@example.com'));
    expect(stored).toEqual(['m1']);
    expect(replies).toEqual([]);
  });

  it('offline: a headline is dropped silently', async () => {
    const { sm, replies } = await startSm();
    await sm.route(chat('alice@example.com', 'x', 'headline'));
    expect(replies).toEqual([]);
  });

  it('offline: a user that does not exist gets service-unavailable without text', async () => {
    const { sm, replies } = await startSm({ userExists: () => false });
    await sm.route(chat('nobody@example.com'));
    expect(replies).toHaveLength(1);
    expect(errorCondition(replies[0]!)).toBe('service-unavailable');
    expect(errorText(replies[0]!)).toBeUndefined();
  });

  it('privacy deny on the offline path → service-unavailable', async () => {
    const { sm, replies } = await startSm();
    sm.hooks.add('privacy_check_packet', HOST, () => 'deny', 50);
    await sm.route(chat('alice@example.com'));
    expect(errorCondition(replies[0]!)).toBe('service-unavailable');
  });

  it('subscription presences reach available sessions only when roster_in_subscription says true', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { priority: 0 });
    const sub = xml('presence', { to: 'alice@example.com', from: 'bob@other.example', type: 'subscribe' });
    await sm.route(sub);
    expect(await a.routed()).toEqual([]);
    sm.hooks.add('roster_in_subscription', HOST, () => true, 50);
    await sm.route(sub);
    expect((await a.routed()).map((m) => m.stanza.attrs.to)).toEqual(['alice@example.com/a']);
    await sm.stop();
  });

  it('check_in_subscription stops with false when the user does not exist', async () => {
    const { sm } = await startSm({ userExists: () => false });
    let reached = false;
    sm.hooks.add(
      'roster_in_subscription',
      HOST,
      () => {
        reached = true;
        return true;
      },
      50,
    );
    await sm.route(xml('presence', { to: 'alice@example.com', type: 'subscribe' }));
    expect(reached).toBe(false);
  });

  it('sm_receive_packet can drop or rewrite a stanza', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a');
    sm.hooks.add(
      'sm_receive_packet',
      HOST,
      (p) => (p !== 'drop' && p.attrs.id === 'drop-me' ? 'drop' : p),
      50,
    );
    const dropped = chat('alice@example.com/a');
    dropped.attrs.id = 'drop-me';
    await sm.route(dropped);
    await sm.route(chat('alice@example.com/a'));
    expect((await a.routed()).map((m) => m.stanza.attrs.id)).toEqual(['m1']);
  });

  it('bounce: iq get to a full JID without session → service-unavailable; iq result and message error → nothing', async () => {
    const { sm, replies } = await startSm();
    await sm.route(
      xml(
        'iq',
        { to: 'alice@example.com/zz', from: 'bob@other.example/x', type: 'get', id: 'q' },
        xml('ping', { xmlns: 'urn:xmpp:ping' }),
      ),
    );
    expect(replies).toHaveLength(1);
    expect(errorText(replies[0]!)).toBe('User session not found');
    await sm.route(
      xml('iq', { to: 'alice@example.com/zz', from: 'bob@other.example/x', type: 'result', id: 'q' }),
    );
    await sm.route(
      xml('message', { to: 'alice@example.com/zz', from: 'bob@other.example/x', type: 'error' }),
    );
    expect(replies).toHaveLength(1);
  });

  it('bounce: a stanza marked ignore_sm_bounce is dropped, not answered', async () => {
    const { sm, replies } = await startSm();
    await sm.route(
      ignoreSmBounce(xml('message', { to: 'alice@example.com', from: 'b@o.example', type: 'groupchat' })),
    );
    expect(replies).toEqual([]);
  });

  it('route(jid, term) sends a raw term to the newest session of each resource (ejabberd_sm:route/2)', async () => {
    const { sm } = await startSm();
    const a = await connect(sm, 'alice', 'a', { closeOnControl: false });
    const b = await connect(sm, 'alice', 'b', { closeOnControl: false });
    await sm.route(jid('alice', HOST), { resend_presence: true });
    await sm.route(jid('alice', HOST, 'b'), 'only-b');
    expect(await a.received()).toEqual([{ resend_presence: true }]);
    expect(await b.received()).toEqual([{ resend_presence: true }, 'only-b']);
  });
});

describe('IQ handler table (gen_iq_handler)', () => {
  const iq = (children: ReturnType<typeof xml>[], type = 'get') =>
    xml('iq', { to: 'alice@example.com', from: 'bob@other.example/x', type, id: 'i1' }, ...children);
  const q = (ns: string) => xml('query', { xmlns: ns });

  it('no handler for the namespace → service-unavailable "No module is handling this query"', async () => {
    const { sm, replies } = await startSm();
    await sm.route(iq([q('jabber:iq:roster')]));
    expect(errorCondition(replies[0]!)).toBe('service-unavailable');
    expect(errorText(replies[0]!)).toBe('No module is handling this query');
  });

  it('zero children → bad-request "No child elements found"; two → "Too many child elements"', async () => {
    const { sm, replies } = await startSm();
    await sm.route(iq([]));
    await sm.route(iq([q('a'), q('b')]));
    expect(replies.map((r) => [errorCondition(r), errorText(r)])).toEqual([
      ['bad-request', 'No child elements found'],
      ['bad-request', 'Too many child elements'],
    ]);
  });

  it('the handler reply is routed; ignore sends nothing; the last registration wins', async () => {
    const { sm, replies } = await startSm();
    sm.registerIqHandler(HOST, 'urn:x', () => 'ignore');
    await sm.route(iq([q('urn:x')]));
    expect(replies).toEqual([]);
    sm.registerIqHandler(HOST, 'urn:x', (req) =>
      xml('iq', { type: 'result', id: req.attrs.id, to: req.attrs.from, from: req.attrs.to }),
    );
    await sm.route(iq([q('urn:x')], 'set'));
    expect(replies.map((r) => r.attrs.type)).toEqual(['result']);
    expect(sm.iqHandlers.features(HOST)).toEqual(['urn:x']);
    expect(sm.unregisterIqHandler(HOST, 'urn:x')).toBe(true);
    await sm.route(iq([q('urn:x')]));
    expect(errorCondition(replies[1]!)).toBe('service-unavailable');
  });

  it('a handler that throws → internal-server-error; IqDecodeError → bad-request with its text', async () => {
    const { sm, replies } = await startSm();
    sm.registerIqHandler(HOST, 'urn:crash', () => {
      throw new Error('boom');
    });
    sm.registerIqHandler(HOST, 'urn:decode', async () => {
      throw new IqDecodeError('urn:decode', 'bad attribute');
    });
    await sm.route(iq([q('urn:crash')]));
    await sm.route(iq([q('urn:decode')]));
    expect(replies.map((r) => [errorCondition(r), errorText(r)])).toEqual([
      ['internal-server-error', 'Module failed to handle the query'],
      ['bad-request', 'bad attribute'],
    ]);
  });

  it('iq result/error to a bare JID never reaches a handler nor gets a reply', async () => {
    const { sm, replies } = await startSm();
    let called = false;
    sm.registerIqHandler(HOST, 'urn:x', () => {
      called = true;
      return 'ignore';
    });
    await sm.route(iq([q('urn:x')], 'result'));
    await sm.route(iq([q('urn:x')], 'error'));
    expect(called).toBe(false);
    expect(replies).toEqual([]);
  });
});

describe('commands (ejabberd_sm:get_commands_spec/0)', () => {
  it('connected_users, connected_users_number, user_resources', async () => {
    const { sm } = await startSm();
    await connect(sm, 'alice', 'b', { priority: 3, info: { conn: 'c2s', ip: ['127.0.0.1', 5555] } });
    await connect(sm, 'alice', 'a');
    const local = { kind: 'local' } as const;
    expect(await sm.commands.execute('connected_users', {}, local)).toEqual([
      'alice@example.com/a',
      'alice@example.com/b',
    ]);
    expect(await sm.commands.execute('connected_users_number', {}, local)).toBe(2);
    expect(await sm.commands.execute('user_resources', { user: 'alice', host: HOST }, local)).toEqual([
      'a',
      'b',
    ]);
    expect(await sm.getUserIp('alice', HOST, 'b')).toEqual(['127.0.0.1', 5555]);
    expect(await sm.getUserIp('alice', HOST, 'a')).toBeUndefined();
  });
});

describe('Erlang term order of listings (connected_users/0, user_resources/2)', () => {
  // connected_users/0 is lists:sort(USRs) *then* formatting: {U, S, R} tuples compare element-wise,
  // so "a" < "a.b" as users, whereas the formatted strings compare "a@" > "a.".
  const table: { label: string; sessions: [string, string][]; expected: string[] }[] = [
    {
      label: 'a user that is a prefix of another sorts first',
      sessions: [
        ['a.b', 'r'],
        ['a', 'r'],
      ],
      expected: ['a@example.com/r', 'a.b@example.com/r'],
    },
    {
      label: 'users before resources',
      sessions: [
        ['a-', 'a'],
        ['a', 'z'],
      ],
      expected: ['a@example.com/z', 'a-@example.com/a'],
    },
  ];
  for (const { label, sessions, expected } of table) {
    it(`connectedUsers / connected_users sort the usr tuples: ${label}`, async () => {
      const { sm } = await startSm();
      for (const [u, r] of sessions) await connect(sm, u, r);
      expect(await sm.connectedUsers()).toEqual(expected);
      expect(await sm.commands.execute('connected_users', {}, { kind: 'local' })).toEqual(expected);
    });
  }

  it('userResources / user_resources sort resources as binaries (code point order, not UTF-16)', async () => {
    const { sm } = await startSm();
    await connect(sm, 'alice', '\u{20000}');
    await connect(sm, 'alice', '\uFA0E');
    await connect(sm, 'alice', 'a');
    expect(await sm.userResources('alice', HOST)).toEqual(['a', '\uFA0E', '\u{20000}']);
  });
});

describe('a failing backend write in set_presence / unset_presence (set_presence/6 ignores set_session errors)', () => {
  // ejabberd's set_presence/unset_presence call set_session, ignore its {error, _}, run the hook and
  // return ok: a store blip on a presence update does not take the connection down.
  const modes = ['throws', 'rejects'] as const;
  const ops = [
    { op: 'setPresence', hook: 'set_presence_hook' },
    { op: 'unsetPresence', hook: 'unset_presence_hook' },
  ] as const;
  for (const mode of modes) {
    for (const { op, hook } of ops) {
      it(`${op} when setSession ${mode}: reports backend_error, runs ${hook}, answers ok, row unchanged`, async () => {
        const backend = new MemoryBackend();
        const hooks = new Hooks();
        const ran: string[] = [];
        hooks.add('set_presence_hook', HOST, (_u, _s, r) => void ran.push(`set ${r}`), 50);
        hooks.add('unset_presence_hook', HOST, (_u, _s, r) => void ran.push(`unset ${r}`), 50);
        const { sm } = await startSm({ backends: { [HOST]: backend }, hooks });
        const errors: string[] = [];
        sm.events.on('backend_error', (e) => errors.push(e.operation));
        const conn = await connect(sm, 'alice', 'r', { priority: 1 });
        ran.length = 0;
        const write = backend.setSession.bind(backend);
        backend.setSession = (row) => {
          if (mode === 'throws') throw new Error('store down');
          return Promise.reject(new Error('store down')).then(() => write(row));
        };
        const result =
          op === 'setPresence'
            ? await sm.setPresence(conn.sid, 'alice', HOST, 'r', 7, presence(7))
            : await sm.unsetPresence(conn.sid, 'alice', HOST, 'r', 'bye');
        expect(result).toBe('ok');
        expect(ran).toEqual([`${op === 'setPresence' ? 'set' : 'unset'} r`]);
        expect(errors).toEqual(['setSession']);
        expect(await sm.getUserPresentResources('alice', HOST)).toEqual([{ priority: 1, resource: 'r' }]);
      });
    }
  }
});

describe('a failing user_exists (route_message/1 offline branch, check_in_subscription/2; ejabberd_auth:user_exists answers false on a DB error)', () => {
  const failures = {
    throws: () => {
      throw new Error('auth store down');
    },
    rejects: () => Promise.reject(new Error('auth store down')),
  } as const;
  for (const [mode, userExists] of Object.entries(failures)) {
    it(`offline path, userExists ${mode}: service-unavailable without text, route does not fail`, async () => {
      const { sm, replies } = await startSm({ userExists });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        await expect(Promise.resolve(sm.route(chat('alice@example.com')))).resolves.toBeUndefined();
        await settle();
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).toEqual([]);
      expect(replies.map((r) => [errorCondition(r), errorText(r)])).toEqual([
        ['service-unavailable', undefined],
      ]);
    });

    it(`check_in_subscription, userExists ${mode}: {stop, false}, so a later roster handler cannot deliver`, async () => {
      const hooks = new Hooks();
      hooks.add('roster_in_subscription', HOST, () => true, 50);
      const { sm } = await startSm({ hooks, userExists });
      const conn = await connect(sm, 'alice', 'r', { priority: 0 });
      await sm.route(
        xml('presence', { to: 'alice@example.com', from: 'bob@example.com', type: 'subscribe' }),
      );
      expect(await conn.routed()).toEqual([]);
    });
  }
});

describe('a remote send that throws (ejabberd_cluster:send answers false, never raises)', () => {
  it('route, kickUser and route(jid, term) treat it as not sent', async () => {
    const backend = new MemoryBackend();
    const { sm } = await startSm({
      backends: { [HOST]: backend },
      remoteSend: () => {
        throw new Error('transport down');
      },
    });
    backend.setSession(makeRow('carol', HOST, 'r', 1, { node: 'node2', priority: 0 }));
    expect(() => sm.route(chat('carol@example.com/r'))).not.toThrow();
    expect(() => sm.route(chat('carol@example.com'))).not.toThrow();
    expect(await sm.kickUser('carol', HOST)).toBe(0);
    expect(await sm.kickUser('carol', HOST, 'r')).toBe(false);
    expect(() => sm.route(jid('carol', HOST), { type: 'exit', reason: 'x' })).not.toThrow();
  });
});

describe('get_max_user_sessions/2: an integer is a limit, anything else is infinity', () => {
  const table: [string, number, boolean][] = [
    ['1 (integer): the oldest is kicked', 1, true],
    ['NaN: unlimited', Number.NaN, false],
    ['1.5 (not an integer): unlimited', 1.5, false],
    ['Infinity: unlimited', Number.POSITIVE_INFINITY, false],
  ];
  for (const [label, max, kicked] of table) {
    it(`maxUserSessions ${label}`, async () => {
      const { sm } = await startSm({ maxUserSessions: () => max });
      const first = await connect(sm, 'alice', 'a', { closeOnControl: false });
      await connect(sm, 'alice', 'b', { closeOnControl: false });
      expect(await first.received()).toEqual(kicked ? [REPLACED] : []);
    });
  }
});

describe('route/1 routes the stanza sm_receive_packet returned (ejabberd_sm:route/1)', () => {
  it('a handler that readdresses the stanza sends it to the new destination (do_route(Packet1) reads Packet1.to)', async () => {
    const hooks = new Hooks();
    hooks.add(
      'sm_receive_packet',
      HOST,
      (p) => (p === 'drop' ? p : xml(p.name, { ...p.attrs, to: 'bob@example.com/r' }, ...p.children)),
      50,
    );
    const { sm } = await startSm({ hooks });
    const alice = await connect(sm, 'alice', 'r', { priority: 0 });
    const bob = await connect(sm, 'bob', 'r', { priority: 0 });
    await sm.route(chat('alice@example.com/r'));
    expect(await alice.routed()).toEqual([]);
    expect((await bob.routed()).map((m) => m.stanza.attrs.to)).toEqual(['bob@example.com/r']);
  });
});
