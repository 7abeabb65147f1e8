// Registered names (anchors §1.3 "Name registration").
import { describe, expect, it } from 'vitest';
import { type ActorRef, NoProcError, type ViaRegistry } from '../src/index.ts';
import { probe, testSystem } from './helpers.ts';

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
});
