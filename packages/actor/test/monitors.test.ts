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

  // demonitor(Ref, [flush]) removes the monitor and a {'DOWN', Ref, ...} already in the mailbox,
  // and nothing else: the messages around it stay, in order. Without flush the DOWN stays.
  it.each([
    { flush: true, expect: ['before', 'other DOWN', 'after'] },
    { flush: false, expect: ['before', 'DOWN', 'other DOWN', 'after'] },
  ])('demonitor with flush: $flush, a DOWN already queued between two messages', async (row) => {
    const { system } = testSystem();
    const seen: string[] = [];
    const target = await system.spawn(probe(), undefined);
    const watcher = await system.spawn<{ mine?: MonitorRef }, void, 'go', unknown, never, unknown>(
      {
        init: () => ({ ok: {} }),
        handleCall(_req, _from, _s, ctx) {
          const mine = ctx.monitor(target);
          ctx.monitor(target); // a second monitor on the same target: its DOWN must stay
          ctx.send(ctx.self, 'before');
          ctx.exit(target, 'kill'); // both DOWNs are queued now, while this handler runs
          ctx.send(ctx.self, 'after');
          ctx.demonitor(mine, { flush: row.flush });
          return { reply: 'ok', state: { mine } };
        },
        handleInfo(m, s) {
          const down = m as Partial<DownMessage>;
          if (down.type === 'DOWN')
            seen.push(down.ref?.monitorId === s.mine?.monitorId ? 'DOWN' : 'other DOWN');
          else seen.push(String(m));
          return { noreply: true, state: s };
        },
      },
      undefined,
    );
    await system.call(watcher, 'go');
    for (let turn = 0; turn < 10 && seen.length < row.expect.length; turn++) await flush();
    await flush();
    expect(seen).toEqual(row.expect);
  });

  it("a dying watcher's monitors leave the target's table (nothing to deliver, nothing kept)", async () => {
    const { system } = testSystem();
    const target = await system.spawn(probe(), undefined);
    const watchers = [];
    for (let i = 0; i < 3; i++) {
      const w = await system.spawn(probe(), undefined);
      await system.call(w, { type: 'monitor', to: target });
      watchers.push(w);
    }
    // White box: the target's table of monitors on it (Process.watchers).
    const table = () => (target.local as unknown as { watchers: Map<number, unknown> | null }).watchers;
    expect(table()?.size).toBe(3);
    await system.stop(watchers[0]!);
    system.exit(watchers[1]!, 'kill');
    expect(table()?.size).toBe(1);
    await system.stop(target, 'shutdown');
    await flush();
    expect(await system.call(watchers[2]!, { type: 'inbox' })).toEqual([
      { type: 'DOWN', ref: expect.anything(), target, reason: 'shutdown' },
    ]);
  });
});
