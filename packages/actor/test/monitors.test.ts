// Monitors (`erlang:monitor/2`, `demonitor/2`): one-way, DOWN exactly once, noproc for a dead target, independent refs.
import { describe, expect, it } from 'vitest';
import type { DownMessage, GenServer, MonitorRef } from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

describe('monitor / demonitor', () => {
  it('DOWN is delivered once, with the reason, and the watcher stays alive', async () => {
    const { system } = testSystem();
    const watcher = await system.spawn(probe(), undefined);
    const target = await system.spawn(probe(), undefined);
    const ref = (await system.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    system.exit(target, { error: 'x' });
    system.exit(target, 'kill'); // already dead: no second DOWN
    await flush();
    const inbox = (await system.call(watcher, { type: 'inbox' })) as DownMessage[];
    expect(inbox).toEqual([{ type: 'DOWN', ref, target, reason: { error: 'x' } }]);
    expect(system.isAlive(watcher)).toBe(true);
  });

  it('monitoring a dead actor gives DOWN with noproc at once', async () => {
    const { system } = testSystem();
    const watcher = await system.spawn(probe(), undefined);
    const target = await system.spawn(probe(), undefined);
    await system.stop(target);
    const ref = (await system.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    await flush();
    expect(await system.call(watcher, { type: 'inbox' })).toEqual([
      { type: 'DOWN', ref, target, reason: 'noproc' },
    ]);
  });

  it('each monitor call is an independent monitor: two DOWNs with two refs', async () => {
    const { system } = testSystem();
    const watcher = await system.spawn(probe(), undefined);
    const target = await system.spawn(probe(), undefined);
    const r1 = (await system.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    const r2 = (await system.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    expect(r1.monitorId).not.toBe(r2.monitorId);
    await system.stop(target, 'shutdown');
    await flush();
    const inbox = (await system.call(watcher, { type: 'inbox' })) as DownMessage[];
    expect(inbox.map((m) => m.ref.monitorId)).toEqual([r1.monitorId, r2.monitorId]);
  });

  it('a normal exit of the target is reported too (monitors are not links)', async () => {
    const { system } = testSystem();
    const watcher = await system.spawn(probe(), undefined);
    const target = await system.spawn(probe(), undefined);
    await system.call(watcher, { type: 'monitor', to: target });
    await system.stop(target);
    await flush();
    expect(((await system.call(watcher, { type: 'inbox' })) as DownMessage[])[0]!.reason).toBe('normal');
  });

  it('demonitor removes the monitor; flush drops a DOWN already queued', async () => {
    const { system } = testSystem();
    const events: unknown[] = [];
    const watcher = await system.spawn<
      null,
      void,
      { t: 'mon' | 'demon' | 'demon-flush'; ref?: MonitorRef },
      unknown,
      never,
      unknown
    >(
      {
        init: () => ({ ok: null }),
        handleCall(req, _from, s, ctx) {
          if (req.t === 'mon') return { reply: ctx.monitor(target), state: s };
          ctx.demonitor(req.ref!, { flush: req.t === 'demon-flush' });
          return { reply: 'ok', state: s };
        },
        handleInfo(m, s) {
          events.push(m);
          return { noreply: true, state: s };
        },
      },
      undefined,
    );
    const target = await system.spawn(probe(), undefined);
    const ref = (await system.call(watcher, { t: 'mon' })) as MonitorRef;
    await system.call(watcher, { t: 'demon', ref });
    await system.stop(target);
    await flush();
    expect(events).toEqual([]);
  });

  it('the watcher dying removes its monitors from the target', async () => {
    const { system } = testSystem();
    const watcher = await system.spawn(probe(), undefined);
    const target = await system.spawn(probe(), undefined);
    await system.call(watcher, { type: 'monitor', to: target });
    await system.stop(watcher);
    await system.stop(target); // would deliver DOWN to a dead watcher: must be a no-op
    expect(system.count()).toBe(0);
  });

  // OTP: monitoring a registered name that is not registered gives
  // {'DOWN', Ref, process, {Name, Node}, noproc}: the target names the missing process, never the
  // watcher. DownMessage.target is an ActorRef, so it must at least be one that never lived.
  it('monitoring an unregistered name gives DOWN noproc whose target is not the watcher', async () => {
    const { system } = testSystem();
    const inbox: unknown[] = [];
    const watcherServer: GenServer<null, undefined, string, MonitorRef, never, unknown> = {
      init: () => ({ ok: null }),
      handleCall: (name, _from, s, ctx) => ({ reply: ctx.monitor(name), state: s }),
      handleInfo: (message, s) => {
        inbox.push(message);
        return { noreply: true, state: s };
      },
    };
    const watcher = await system.spawn(watcherServer, undefined);
    const mon = await system.call(watcher, 'nobody');
    await flush();
    expect(inbox).toEqual([{ type: 'DOWN', ref: mon, target: expect.anything(), reason: 'noproc' }]);
    const down = inbox[0] as DownMessage;
    expect(down.target.equals(watcher)).toBe(false);
    expect(system.isAlive(down.target)).toBe(false);
  });
});
