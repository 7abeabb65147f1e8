// Virtual hosts added and removed at run time: the global `host_up` and `host_down` hooks
// (`ejabberd_config:reload/0` runs them) and the session manager's handlers, `ejabberd_sm:host_up/1`
// (seq 50: the per-host hooks) and `host_down/1` (seq 60: local sessions told `system-shutdown`, or
// `reset` while other nodes are up, then the hooks removed).
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { loopbackCluster } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { Supervisor } from '@otp-chat/supervisor';
import { describe, expect, it } from 'vitest';
import type { Backend, BackendInitContext } from '../src/Backend.ts';
import { RESET, SYSTEM_SHUTDOWN } from '../src/ConnectionMessage.ts';
import { BackendInitError, UnknownHostError } from '../src/errors.ts';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import { SessionManager } from '../src/SessionManager.ts';
import { backendActors } from '../src/testing/index.ts';
import { chat, connect, HOST, startSm } from './harness.ts';

const NEW = 'new.example';

/** A memory backend that records `init` contexts and host changes. */
class Recording extends MemoryBackend {
  readonly log: string[] = [];
  readonly contexts: BackendInitContext[] = [];
  constructor(private readonly failInit?: Error) {
    super();
  }
  override init(context?: BackendInitContext): void {
    this.contexts.push(context!);
    this.log.push(`init:${context?.hosts.join(',')}`);
    if (this.failInit !== undefined) throw this.failInit;
  }
  hostUp(lserver: string): void {
    this.log.push(`hostUp:${lserver}`);
  }
  hostDown(lserver: string): void {
    this.log.push(`hostDown:${lserver}`);
  }
}

const PER_HOST_HOOKS = [
  'roster_in_subscription',
  'offline_message_hook',
  'bounce_sm_packet',
  'remove_user',
] as const;

describe('host_up (ejabberd_sm:host_up/1, seq 50 on the global list)', () => {
  it('the session manager adds the global host_up and host_down handlers at init and deletes them at terminate', async () => {
    const { sm } = await startSm();
    expect(sm.hooks.has('host_up', 'global')).toBe(true);
    expect(sm.hooks.has('host_down', 'global')).toBe(true);
    await sm.stop();
    expect(sm.hooks.has('host_up', 'global')).toBe(false);
    expect(sm.hooks.has('host_down', 'global')).toBe(false);
  });

  it('a new host on the default backend: served, its hooks added, sessions open and are routed to; the running backend is told', async () => {
    const shared = new Recording();
    const { sm } = await startSm({ defaultBackend: shared });
    expect(sm.hosts).toEqual([HOST]);
    for (const hook of PER_HOST_HOOKS) expect(sm.hooks.has(hook, NEW)).toBe(false);
    await sm.hooks.run('host_up', 'global', 'New.Example');
    expect(sm.hosts).toEqual([HOST, NEW]);
    for (const hook of PER_HOST_HOOKS) expect(sm.hooks.has(hook, NEW)).toBe(true);
    expect(shared.log).toEqual([`init:${HOST}`, `hostUp:${NEW}`]);
    expect((await backendActors(sm)).length).toBe(1); // the same backend, not a second actor
    const alice = await connect(sm, 'alice', 'phone', { host: NEW });
    await sm.route(chat(`alice@${NEW}/phone`, 'on the new host'));
    expect((await alice.routed()).map((r) => r.stanza.getChildText('body'))).toEqual(['on the new host']);
    // A host already served: nothing happens.
    await sm.hostUp(NEW);
    expect(shared.log).toEqual([`init:${HOST}`, `hostUp:${NEW}`]);
    await sm.stop();
  });

  it('a new host with a backend of its own: that backend is started under the backend supervisor, init given the host', async () => {
    const own = new Recording();
    const { sm } = await startSm({ backends: { [NEW]: own } });
    // `backends` may name a host that is not served yet: nothing starts before host_up.
    expect(own.log).toEqual([]);
    expect((await backendActors(sm)).map((a) => a.id)).toEqual(['backend:0:memory']);
    await sm.hostUp(NEW);
    expect((await backendActors(sm)).map((a) => a.id)).toEqual(['backend:0:memory', 'backend:1:memory']);
    expect(own.log).toEqual([`init:${NEW}`]);
    expect(own.contexts[0]).toMatchObject({ node: 'node1', hosts: [NEW], incarnation: expect.any(String) });
    await connect(sm, 'bob', 'laptop', { host: NEW });
    expect(own.size).toBe(1);
    await sm.stop();
  });

  it('a backend that fails to start: hostUp rejects with BackendInitError and the host is not served', async () => {
    const boom = new Error('no store');
    const { sm } = await startSm({
      backends: { [NEW]: Object.assign(new Recording(boom), { name: 'bad' }) },
    });
    const error = await sm.hostUp(NEW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendInitError);
    expect(error).toMatchObject({ backend: 'bad', cause: boom });
    expect(sm.hosts).toEqual([HOST]);
    expect(sm.hooks.has('remove_user', NEW)).toBe(false);
    expect((await backendActors(sm)).length).toBe(1);
    await sm.stop();
  });

  it('a host added while the actor is down (crashed) gets its hooks from the restarted actor', async () => {
    const { sm, system } = await startSm();
    const actor = sm.ref!;
    system.exit(actor, 'kill');
    await sm.hostUp(NEW); // the API needs no actor
    // The supervisor restarts the actor before it answers.
    await Supervisor.whichChildren(system, sm.supervisor!);
    expect(sm.ref!.equals(actor)).toBe(false);
    expect(sm.hooks.has('remove_user', NEW)).toBe(true);
    await sm.stop();
  });
});

describe('host_down (ejabberd_sm:host_down/1, seq 60 on the global list)', () => {
  it('local sessions of the host get system-shutdown, others nothing; its hooks go; it no longer opens nor routes; its sessions still close', async () => {
    const backend = new Recording();
    const removed: string[] = [];
    const hooks = new Hooks({ logger: silentLogger });
    hooks.add('sm_remove_connection_hook', NEW, (_sid, j) => void removed.push(j.toString()), 50);
    const { sm } = await startSm({ hosts: [HOST, NEW], defaultBackend: backend, hooks });
    const here = await connect(sm, 'alice', 'phone', { host: NEW, closeOnControl: false });
    const other = await connect(sm, 'alice', 'phone', { closeOnControl: false });
    await sm.hooks.run('host_down', 'global', NEW);
    expect(sm.hosts).toEqual([HOST]);
    expect(await here.received()).toEqual([SYSTEM_SHUTDOWN]);
    expect(await other.received()).toEqual([]);
    for (const hook of PER_HOST_HOOKS) expect(sm.hooks.has(hook, NEW)).toBe(false);
    for (const hook of PER_HOST_HOOKS) expect(sm.hooks.has(hook, HOST)).toBe(true);
    expect(backend.log).toEqual([`init:${HOST},${NEW}`, `hostDown:${NEW}`]);
    // Nothing opens there any more; a stanza to it is not routed.
    expect(() => sm.openSession(sm.makeSid(other.ref), 'bob', NEW, 'r')).toThrow(UnknownHostError);
    await sm.route(chat(`alice@${NEW}/phone`, 'too late'));
    expect(await here.routed()).toEqual([]);
    // The session that was open closes normally: its row goes, its hook runs.
    expect(backend.size).toBe(2);
    await sm.closeSession(here.sid, 'alice', NEW, 'phone');
    expect(backend.size).toBe(1);
    expect(removed).toEqual([`alice@${NEW}/phone`]);
    // A host not served: nothing.
    await sm.hostDown('unknown.example');
    await sm.stop();
  });

  it('reset instead of system-shutdown while other nodes are up (so that clients reconnect there), at host_down and at shut-down', async () => {
    const store = new MemoryBackend();
    const systems = ['node1', 'node2'].map((node) => new ActorSystem({ node, logger: silentLogger }));
    const sms = await Promise.all(
      systems.map((system) =>
        SessionManager.start({ system, hosts: [HOST, NEW], backends: { [HOST]: store, [NEW]: store } }),
      ),
    );
    const net = loopbackCluster(systems);
    try {
      const [sm1] = sms as [SessionManager, SessionManager];
      const a = await connect(sm1, 'alice', 'phone', { host: NEW, closeOnControl: false });
      const b = await connect(sm1, 'bob', 'phone', { closeOnControl: false });
      await sm1.hostDown(NEW);
      expect(await a.received()).toEqual([RESET]);
      await sm1.stop();
      expect(await b.received()).toEqual([RESET]);
    } finally {
      net.close();
      for (const sm of sms) await sm.stop();
    }
  });

  it('a host removed and added again is served again, on the same backend', async () => {
    const { sm } = await startSm({ hosts: [HOST, NEW] });
    await sm.hostDown(NEW);
    await sm.hostUp(NEW);
    expect(sm.hosts).toEqual([HOST, NEW]);
    const alice = await connect(sm, 'alice', 'phone', { host: NEW });
    await sm.route(chat(`alice@${NEW}/phone`, 'back'));
    expect((await alice.routed()).length).toBe(1);
    expect((await backendActors(sm)).length).toBe(1);
    await sm.stop();
  });
});

describe('a backend without hostUp / hostDown', () => {
  it('is optional: a plain Backend serves a host added and removed at run time', async () => {
    const plain: Backend = new MemoryBackend();
    const { sm } = await startSm({ defaultBackend: plain });
    await sm.hostUp(NEW);
    await connect(sm, 'carol', 'r', { host: NEW });
    await sm.hostDown(NEW);
    expect(sm.hosts).toEqual([HOST]);
    await sm.stop();
  });
});
