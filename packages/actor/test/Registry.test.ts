// Registered names (`gen_server:start_link/4` with `{local, Name}` or `{via, Module, Name}`, `erlang:register/2`).
import { describe, expect, it } from 'vitest';
import {
  type ActorRef,
  ActorSystem,
  type GenServer,
  type Logger,
  NoProcError,
  SimulatedClock,
  type ViaRegistry,
} from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

describe('Registry', () => {
  it('a taken local name gives { error: { alreadyStarted } } with the holder', async () => {
    const { system } = testSystem();
    const first = await system.spawn(probe(), undefined, { name: 'sm' });
    expect(system.whereis('sm')).toBe(first);
    const second = await system.start(probe(), undefined, { name: 'sm' });
    expect(second).toEqual({ error: { alreadyStarted: first } });
    expect(system.count()).toBe(1);
  });

  it('the name is free again as soon as the actor ended, so a restart can take it', async () => {
    const { system } = testSystem();
    const first = await system.spawn(probe(), undefined, { name: 'sm' });
    system.exit(first, 'kill');
    expect(system.whereis('sm')).toBeUndefined();
    const again = await system.spawn(probe(), undefined, { name: 'sm' });
    expect(system.whereis('sm')).toBe(again);
  });

  it('call, cast and send accept names; send to an unknown name throws NoProcError, cast ignores it', async () => {
    const { system } = testSystem();
    await system.spawn(probe(), undefined, { name: 'p' });
    system.send('p', 'hello');
    expect(await system.call('p', { type: 'inbox' })).toEqual(['hello']);
    expect(() => system.send('nobody', 'x')).toThrow(NoProcError);
    expect(() => system.cast('nobody', 'x')).not.toThrow();
  });

  it('{ via } delegates registration, lookup and unregistration to the given registry', async () => {
    const { system } = testSystem();
    const names = new Map<unknown, ActorRef>();
    const via: ViaRegistry = {
      registerName: (n, r) => {
        if (names.has(n)) return false;
        names.set(n, r);
        return true;
      },
      unregisterName: (n) => void names.delete(n),
      whereisName: (n) => names.get(n),
    };
    const ref = await system.spawn(probe(), undefined, { name: { via, name: ['sm', 'host'] } });
    const key = [...names.keys()][0];
    expect(system.whereis({ via, name: key })).toBe(ref);
    expect(await system.start(probe(), undefined, { name: { via, name: key } })).toEqual({
      error: { alreadyStarted: ref },
    });
    await system.stop(ref);
    expect(names.size).toBe(0);
  });

  it('ActorRef is serialisable and comparable', async () => {
    const { system } = testSystem();
    const ref = await system.spawn(probe(), undefined);
    const copy = JSON.parse(JSON.stringify(ref)) as { node: string; id: number };
    expect(copy).toEqual({ node: 'test@local', id: ref.id });
    const { ActorRef: Ref } = await import('../src/index.ts');
    const back = Ref.fromJSON(copy);
    expect(back.equals(ref)).toBe(true);
    system.send(back, 'via copy');
    expect(await system.call(ref, { type: 'inbox' })).toEqual(['via copy']);
  });

  // OTP: `{via, Mod, Name}` calls Mod:unregister_name/1 from the ending process; a failure there
  // is that registry's problem. Here it runs inside the runtime's finalize: a throwing registry
  // must not leave the actor half-dead nor stall the scheduler for every other actor.
  it('a via registry whose unregisterName throws: the actor still ends, watchers are told, others run', async () => {
    const errors: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (_o, msg) => errors.push(msg ?? '') };
    const system = new ActorSystem({ node: 'test@local', clock: new SimulatedClock(), logger });
    const via: ViaRegistry = {
      registerName: () => true,
      unregisterName: () => {
        throw new Error('registry down');
      },
      whereisName: () => undefined,
    };
    const stopper: GenServer<null, undefined, never, unknown, 'stop'> = {
      init: () => ({ ok: null }),
      handleCast: (_m, s) => ({ stop: 'normal', state: s }),
    };
    const named = await system.spawn(stopper, undefined, { name: { via, name: 'x' } });
    const other = await system.spawn(stopper, undefined);
    const watcher = await system.spawn(probe(), undefined);
    const mon = await system.call(watcher, { type: 'monitor', to: named });
    system.cast(named, 'stop');
    await flush();
    expect(system.isAlive(named)).toBe(false);
    expect(await system.call(watcher, { type: 'inbox' })).toEqual([
      { type: 'DOWN', ref: mon, target: named, reason: 'normal' },
    ]);
    system.cast(other, 'stop');
    await flush();
    expect(system.isAlive(other)).toBe(false);
    expect(errors).toContain('via registry unregisterName threw');
  });
});
