import { type ActorRef, ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import { Application, Supervisor } from '@otp-chat/supervisor';
import { describe, expect, it } from 'vitest';
import type { Backend, BackendInitContext } from '../src/Backend.ts';
import { REREGISTER, SYSTEM_SHUTDOWN } from '../src/ConnectionMessage.ts';
import { BackendInitError, NotStartedError } from '../src/errors.ts';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import { SessionManager, sessionManagerServer } from '../src/SessionManager.ts';
import { backendActors } from '../src/testing/index.ts';
import { chat, connect, HOST, settle, startSm } from './harness.ts';

const OTHER = 'other.example';

/** A memory backend that records its lifecycle calls in a shared log. */
class Recording extends MemoryBackend {
  constructor(
    readonly label: string,
    readonly log: string[],
    readonly failInit?: unknown,
  ) {
    super();
  }
  override init(): void {
    this.log.push(`init:${this.label}`);
    if (this.failInit !== undefined) throw this.failInit;
  }
  override stop(): void {
    this.log.push(`stop:${this.label}`);
    super.stop();
  }
}

async function backendChildren(sm: SessionManager): Promise<{ id: string; ref: ActorRef }[]> {
  const sup = sm.backendSupervisor;
  if (sup === undefined) throw new Error('no backend supervisor');
  // whichChildren lists newest first (OTP); the tests read them in start (host) order.
  const children = (await Supervisor.whichChildren(sm.system, sup)).reverse();
  return children.map((c) => {
    if (c.ref === undefined || c.ref === 'restarting') throw new Error(`child ${c.id} not running`);
    return { id: c.id ?? '', ref: c.ref };
  });
}

describe("backend supervisor (ejabberd_backend_sup; ejabberd_sm:init/1 runs each backend's init)", () => {
  it('is a real Supervisor with one running worker per distinct backend, in host order', async () => {
    const log: string[] = [];
    const a = new Recording('a', log);
    const b = new Recording('b', log);
    const { sm, system } = await startSm({ hosts: [HOST, OTHER], backends: { [HOST]: a, [OTHER]: b } });
    const children = await backendChildren(sm);
    expect(children.map((c) => c.id)).toEqual(['backend:0:memory', 'backend:1:memory']);
    for (const c of children) expect(system.isAlive(c.ref)).toBe(true);
    expect(await Supervisor.countChildren(system, sm.backendSupervisor!)).toMatchObject({
      specs: 2,
      active: 2,
      workers: 2,
    });
    expect(log).toEqual(['init:a', 'init:b']);
    await sm.stop();
  });

  it.each([
    ['throws synchronously', (e: Error) => Object.assign(new Recording('x', [], e), { name: 'bad' })],
    [
      'rejects',
      (e: Error) =>
        Object.assign(new MemoryBackend(), { name: 'bad', init: () => Promise.reject(e) }) as Backend,
    ],
  ])(
    'a backend whose init %s fails the SM start with that reason (ejabberd_sm:init/1)',
    async (_label, make) => {
      const boom = new Error('store unavailable');
      const log: string[] = [];
      const good = new Recording('good', log);
      const system = new ActorSystem({ node: 'node1', logger: silentLogger });
      const err = await SessionManager.start({
        system,
        hosts: [HOST, OTHER],
        backends: { [HOST]: good, [OTHER]: make(boom) },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendInitError);
      expect((err as BackendInitError).backend).toBe('bad');
      expect((err as BackendInitError).cause).toBe(boom);
      // The backend started before the failing one was stopped again, and nothing is left running.
      expect(log).toEqual(['init:good', 'stop:good']);
      expect(system.whereis('session_manager')).toBeUndefined();
      expect(system.count()).toBe(0);
    },
  );

  it('a crashed backend actor is restarted; the memory store outlives it (as a mnesia table) and the SM keeps working', async () => {
    const log: string[] = [];
    const backend = new Recording('mem', log);
    const { sm, system } = await startSm({ backends: { [HOST]: backend } });
    const alice = await connect(sm, 'alice', 'phone');
    const [before] = await backendChildren(sm);
    system.exit(before!.ref, 'kill'); // untrappable: no terminate, so no backend.stop
    const [after] = await backendChildren(sm);
    expect(after!.ref.equals(before!.ref)).toBe(false);
    expect(system.isAlive(after!.ref)).toBe(true);
    // init ran again on the same store; stop never ran; the row is still there.
    expect(log).toEqual(['init:mem', 'init:mem']);
    expect(backend.size).toBe(1);
    expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
    // Routing and new sessions still work.
    await sm.route(chat(`alice@${HOST}/phone`, 'after restart'));
    expect((await alice.routed()).map((r) => r.stanza.getChildText('body'))).toEqual(['after restart']);
    const bob = await connect(sm, 'bob', 'laptop');
    expect(await sm.connectedUsers()).toEqual([`alice@${HOST}/phone`, `bob@${HOST}/laptop`]);
    await sm.closeSession(bob.sid, 'bob', HOST, 'laptop');
    expect(await sm.connectedUsersNumber()).toBe(1);
    await sm.stop();
    expect(log).toEqual(['init:mem', 'init:mem', 'stop:mem']);
  });

  it('a restarted backend actor re-inits with the same incarnation; a new start of the SM gets a new one', async () => {
    const contexts: BackendInitContext[] = [];
    const backend = new MemoryBackend();
    backend.init = (context) => void contexts.push(context!);
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const { sm } = await startSm({ system, backends: { [HOST]: backend } });
    const [before] = await backendActors(sm);
    system.exit(before!.ref, 'kill');
    const [after] = await backendActors(sm);
    expect(after!.ref.equals(before!.ref)).toBe(false);
    await sm.stop();
    const { sm: again } = await startSm({ system, backends: { [HOST]: backend } });
    await again.stop();
    const ids = contexts.map((c) => c.incarnation);
    expect(ids).toHaveLength(3);
    expect(typeof ids[0]).toBe('string');
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(contexts.map((c) => c.node)).toEqual(['node1', 'node1', 'node1']);
  });

  it('more restarts than the intensity (10 per 1 s) end the backend supervisor; the tree restarts it and the SM (rest_for_one), and live sessions re-register', async () => {
    const clock = new SimulatedClock(0); // time stands still: every restart falls in one window
    const system = new ActorSystem({ node: 'node1', clock, logger: silentLogger });
    const backend = new MemoryBackend();
    const { sm } = await startSm({ system, backends: { [HOST]: backend } });
    const alice = await connect(sm, 'alice', 'phone', { closeOnControl: false, reregister: true });
    const smRef = sm.ref!;
    const firstSup = sm.backendSupervisor!;
    const smExit = system.whenExit(smRef);
    for (let i = 0; i <= 10; i++) {
      const [child] = await backendChildren(sm);
      system.exit(child!.ref, 'kill');
    }
    // The SM actor was stopped (shutdown) because its elder sibling died, then both restarted.
    expect(await smExit).toBe('shutdown');
    await Supervisor.whichChildren(system, sm.supervisor!);
    expect(system.isAlive(firstSup)).toBe(false);
    expect(system.isAlive(sm.backendSupervisor!)).toBe(true);
    expect(sm.ref!.equals(smRef)).toBe(false);
    // The memory store stopped empty; the live connection was asked to re-register (not told
    // to shut down), wrote its row again, and is routed to.
    const received = await alice.received();
    expect(received).toContainEqual(REREGISTER);
    expect(received).not.toContainEqual(SYSTEM_SHUTDOWN);
    await settle();
    expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
    await sm.route(chat(`alice@${HOST}/phone`, 'after the backends came back'));
    expect((await alice.routed()).map((r) => r.stanza.getChildText('body'))).toEqual([
      'after the backends came back',
    ]);
    await sm.stop();
  });

  it('terminate: sessions get system-shutdown, then the backend supervisor stops backends in reverse order', async () => {
    const log: string[] = [];
    const a = new Recording('a', log);
    const b = new Recording('b', log);
    const { sm, system } = await startSm({ hosts: [HOST, OTHER], backends: { [HOST]: a, [OTHER]: b } });
    const conn = await connect(sm, 'alice', 'phone', { closeOnControl: false });
    const sup = sm.backendSupervisor!;
    await sm.stop();
    expect(log).toEqual(['init:a', 'init:b', 'stop:b', 'stop:a']);
    expect(await conn.received()).toContainEqual(SYSTEM_SHUTDOWN);
    expect(system.isAlive(sup)).toBe(false);
  });
});

describe('SessionManager under an Application root supervisor (ejabberd_sm is a worker of ejabberd_sup)', () => {
  it('childSpec starts it registered; the app stop runs its terminate and stops its backends', async () => {
    const log: string[] = [];
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: new Recording('m', log) } });
    const app = await Application.start({ children: [sm.childSpec()] }, { system, handleSignals: false });
    const [child] = await Supervisor.whichChildren(system, app.root);
    expect(child?.id).toBe('session_manager');
    expect(system.whereis('session_manager')).toEqual(sm.ref);
    const conn = await connect(sm, 'alice', 'phone', { closeOnControl: false });
    await app.stop();
    expect(await conn.received()).toContainEqual(SYSTEM_SHUTDOWN);
    expect(log).toEqual(['init:m', 'stop:m']);
  });

  it('a crashed SM actor is restarted alone: same backends, same sessions, hooks and commands again', async () => {
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const backend = new MemoryBackend();
    const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: backend } });
    const app = await Application.start({ children: [sm.childSpec()] }, { system, handleSignals: false });
    const bob = await connect(sm, 'bob', 'laptop', { closeOnControl: false });
    const first = sm.ref!;
    const tree = sm.supervisor!;
    const backends = sm.backendSupervisor!;
    system.exit(first, 'kill');
    await Supervisor.whichChildren(system, tree);
    // The root saw nothing: the session manager's own supervisor restarted the actor.
    const [child] = await Supervisor.whichChildren(system, app.root);
    expect(child?.ref).toEqual(tree);
    expect(sm.ref?.equals(first)).toBe(false);
    expect(system.whereis('session_manager')).toEqual(sm.ref);
    expect(sm.backendSupervisor).toBe(backends);
    expect(system.isAlive(backends)).toBe(true);
    expect(backend.size).toBe(1);
    expect(sm.commands.list().map((c) => c.name)).toContain('connected_users');
    expect(sm.hooks.has('remove_user', HOST)).toBe(true);
    await sm.route(chat(`bob@${HOST}/laptop`, 'hello'));
    expect((await bob.routed()).length).toBe(1);
    expect(await bob.received()).not.toContainEqual(SYSTEM_SHUTDOWN);
    await app.stop();
    expect(await bob.received()).toContainEqual(SYSTEM_SHUTDOWN);
  });

  it('started alone, outside its tree, the actor has no backends: it stops with NotStartedError', async () => {
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const sm = new SessionManager({ system, hosts: [HOST] });
    const result = await system.start(sessionManagerServer, sm);
    expect(result).toEqual({ error: { error: expect.any(NotStartedError) } });
  });
});
