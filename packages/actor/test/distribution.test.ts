// Cross-node semantics kept by the actor kernel (OTP's links, monitors and exit signals, and
// `noconnection`), over the in-process loopback carrier. `@otp-chat/cluster` runs the same table
// between processes over Redis.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActorContext,
  ActorRef,
  type ActorSystem,
  CallTimeoutError,
  DistributionError,
  type DownMessage,
  ExitError,
  type ExitMessage,
  type From,
  type GenServer,
  type MonitorRef,
  NoConnectionError,
  NoProcError,
  RemoteError,
  type SimulatedClock,
  UnencodableMessageError,
} from '../src/index.ts';
import { type LoopbackCluster, loopbackCluster, testSystem } from '../src/testing/index.ts';
import { probe } from './helpers.ts';

type EchoCall =
  | { readonly type: 'echo'; readonly value: unknown }
  | { readonly type: 'hold' }
  | { readonly type: 'release'; readonly value: unknown }
  | { readonly type: 'bad-reply' }
  | { readonly type: 'casts' };

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Answers calls, holds one to answer later, records casts. */
const echo: GenServer<{ held: From[]; casts: unknown[] }, void, EchoCall, unknown, unknown> = {
  init: () => ({ ok: { held: [], casts: [] } }),
  handleCall(req, from, state, ctx) {
    switch (req.type) {
      case 'echo':
        return { reply: req.value, state };
      case 'hold':
        state.held.push(from);
        return { noreply: true, state };
      case 'release':
        for (const f of state.held) ctx.reply(f, req.value);
        state.held = [];
        return { reply: 'released', state };
      case 'bad-reply':
        return { reply: () => 1, state };
      case 'casts':
        return { reply: state.casts, state };
    }
  },
  handleCast(message, state) {
    state.casts.push(message);
    return { noreply: true, state };
  },
};

interface Nodes {
  a: ActorSystem;
  b: ActorSystem;
  clockA: SimulatedClock;
  net: LoopbackCluster;
}

let current: LoopbackCluster | undefined;
afterEach(() => {
  current?.close();
  current = undefined;
});

function twoNodes(): Nodes {
  const { system: a, clock: clockA } = testSystem('a@host');
  const { system: b } = testSystem('b@host');
  for (const s of [a, b])
    s.codecs.register({
      tag: 'pt',
      type: Point,
      encode: (p) => [p.x, p.y],
      decode: (w) => new Point(...(w as [number, number])),
    });
  const net = loopbackCluster([a, b]);
  current = net;
  return { a, b, clockA, net };
}

// Refs are equal when they name the same actor: one that crossed nodes has no local process.
expect.addEqualityTesters([
  (x: unknown, y: unknown) => (x instanceof ActorRef && y instanceof ActorRef ? x.equals(y) : undefined),
]);

async function inbox(system: ActorSystem, ref: ActorRef): Promise<unknown[]> {
  return (await system.call(ref, { type: 'inbox' })) as unknown[];
}

describe('send, cast and call across nodes', () => {
  it('send reaches handleInfo and cast handleCast, decoded, in order per pair', async () => {
    const { a, b, net } = twoNodes();
    const p = await b.spawn(probe(), undefined);
    const e = await b.spawn(echo, undefined);
    for (let i = 0; i < 200; i++) a.send(p, { i, at: new Point(i, -i) });
    a.cast(e, 'c1');
    a.cast(e, { c: 2 });
    await net.settled();
    const got = (await inbox(b, p)) as Array<{ i: number; at: Point }>;
    expect(got.map((m) => m.i)).toEqual([...Array(200).keys()]);
    expect(got[7]!.at).toEqual(new Point(7, -7));
    expect(got[7]!.at).toBeInstanceOf(Point);
    expect(await b.call(e, { type: 'casts' })).toEqual(['c1', { c: 2 }]);
  });

  it('call: the reply; a ref in the reply is a ref of the other node', async () => {
    const { a, b } = twoNodes();
    const e = await b.spawn(echo, undefined);
    const back = (await a.call(e, { type: 'echo', value: { n: 1, self: e } })) as { self: ActorRef };
    expect(back).toEqual({ n: 1, self: e });
    expect(back.self).not.toBe(e);
  });

  it('call: timeout, and the late reply is dropped', async () => {
    const { a, b, clockA, net } = twoNodes();
    const e = await b.spawn(echo, undefined);
    const pending = a.call(e, { type: 'hold' }, 100);
    const settled = pending.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await net.settled();
    clockA.advance(200);
    const error = await settled;
    expect(error).toBeInstanceOf(CallTimeoutError);
    // The server answers now: the reply crosses and finds no caller.
    expect(await b.call(e, { type: 'release', value: 'late' })).toBe('released');
    await net.settled();
    expect(await a.call(e, { type: 'echo', value: 'next' })).toBe('next');
  });

  it('call: NoProcError for a dead remote actor, ExitError when it stops during the call', async () => {
    const { a, b } = twoNodes();
    const e = await b.spawn(echo, undefined);
    await b.stop(e);
    await expect(a.call(e, { type: 'echo', value: 1 })).rejects.toThrow(NoProcError);
    const e2 = await b.spawn(echo, undefined);
    const waiting = a.call(e2, { type: 'hold' });
    await current!.settled();
    b.exit(e2, { error: new TypeError('crashed') });
    const error = (await waiting.catch((x: unknown) => x)) as ExitError;
    expect(error).toBeInstanceOf(ExitError);
    const reason = error.reason as { error: RemoteError };
    expect(reason.error).toBeInstanceOf(RemoteError);
    expect(reason.error.originalName).toBe('TypeError');
  });

  it('call: NoConnectionError at once to a node known down, and for a call waiting when it goes down', async () => {
    const { a, b, net } = twoNodes();
    const e = await b.spawn(echo, undefined);
    const waiting = a.call(e, { type: 'hold' }, Number.POSITIVE_INFINITY);
    await net.settled();
    net.disconnect('b@host');
    await expect(waiting).rejects.toThrow(NoConnectionError);
    await expect(a.call(e, { type: 'echo', value: 1 })).rejects.toThrow(NoConnectionError);
    a.send(e, 'dropped'); // a down node: dropped, as Erlang's send
    a.cast(e, 'dropped');
  });

  it('unencodable: send and cast throw at the sender, call rejects; a bad reply rejects the caller', async () => {
    const { a, b } = twoNodes();
    const e = await b.spawn(echo, undefined);
    expect(() => a.send(e, { f: () => 1 })).toThrow(UnencodableMessageError);
    expect(() => a.cast(e, new Map())).toThrow(UnencodableMessageError);
    await expect(a.call(e, { type: 'echo', value: Symbol('x') })).rejects.toThrow(UnencodableMessageError);
    const error = (await a
      .call(e, { type: 'bad-reply' })
      .catch((x: unknown) => x)) as UnencodableMessageError;
    expect(error).toBeInstanceOf(UnencodableMessageError);
    expect(b.isAlive(e)).toBe(true);
  });
});

describe('monitors across nodes', () => {
  it('DOWN with the reason, once; noproc for a dead target; demonitor stops it', async () => {
    const { a, b, net } = twoNodes();
    const watcher = await a.spawn(probe(), undefined);
    const target = await b.spawn(probe(), undefined);
    const ref = (await a.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    await net.settled();
    b.exit(target, { shutdown: 'x' });
    await net.settled();
    net.disconnect('b@host'); // after the DOWN: no second one
    await net.settled();
    expect(await inbox(a, watcher)).toEqual([{ type: 'DOWN', ref, target, reason: { shutdown: 'x' } }]);
    net.connect('b@host');
    const ref2 = (await a.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    await net.settled();
    expect((await inbox(a, watcher))[1]).toEqual({ type: 'DOWN', ref: ref2, target, reason: 'noproc' });
  });

  it('demonitor: no DOWN', async () => {
    const { a, b, net } = twoNodes();
    const target = await b.spawn(probe(), undefined);
    const got: unknown[] = [];
    const watcher = await a.spawn<null, void, 'watch', MonitorRef, never, unknown>(
      {
        init: () => ({ ok: null }),
        handleCall: (_r, _f, s, ctx) => {
          const ref = ctx.monitor(target);
          ctx.demonitor(ref);
          return { reply: ref, state: s };
        },
        handleInfo: (m, s) => {
          got.push(m);
          return { noreply: true, state: s };
        },
      },
      undefined,
    );
    await a.call(watcher, 'watch');
    await net.settled();
    b.exit(target, 'kill');
    await net.settled();
    expect(got).toEqual([]);
  });

  it('noconnection: at once for a node down, and once when the node goes down', async () => {
    const { a, b, net } = twoNodes();
    const watcher = await a.spawn(probe(), undefined);
    const target = await b.spawn(probe(), undefined);
    const ref = (await a.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    await net.settled();
    net.disconnect('b@host');
    const ref2 = (await a.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    b.exit(target, 'kill'); // its DOWN cannot cross any more
    await net.settled();
    expect(await inbox(a, watcher)).toEqual([
      { type: 'DOWN', ref, target, reason: 'noconnection' },
      { type: 'DOWN', ref: ref2, target, reason: 'noconnection' },
    ]);
  });
});

describe('links and exit signals across nodes', () => {
  function linker(): GenServer<null, { to: ActorRef; trap: boolean }, 'unlink'> {
    return {
      init: ({ to, trap }, ctx: ActorContext) => {
        ctx.trapExit(trap);
        ctx.link(to);
        return { ok: null };
      },
      handleCall: (_r, _f, s) => ({ reply: 'ok', state: s }),
    };
  }

  it('a remote crash kills a linked actor that does not trap, with the same reason', async () => {
    const { a, b, net } = twoNodes();
    const target = await b.spawn(probe(), undefined);
    const local = await a.spawn(linker(), { to: target, trap: false });
    await net.settled();
    const exited = a.whenExit(local);
    b.exit(target, { exit: 'boom' });
    expect(await exited).toEqual({ exit: 'boom' });
  });

  it('trapping: EXIT from the remote ref; a normal exit does not kill a non-trapping actor', async () => {
    const { a, b, net } = twoNodes();
    const watcher = await a.spawn(probe({ trapExit: true }), undefined);
    const target = await b.spawn(probe(), undefined);
    await a.call(watcher, { type: 'link', to: target });
    const calm = await b.spawn(probe(), undefined);
    const plain = await a.spawn(linker(), { to: calm, trap: false });
    await net.settled();
    await b.stop(target, 'shutdown');
    await b.stop(calm, 'normal');
    await net.settled();
    expect(await inbox(a, watcher)).toEqual([{ type: 'EXIT', from: target, reason: 'shutdown' }]);
    expect(a.isAlive(plain)).toBe(true);
  });

  it('the other way: a local crash kills the linked remote actor', async () => {
    const { a, b, net } = twoNodes();
    const remote = await b.spawn(probe(), undefined);
    const local = await a.spawn(linker(), { to: remote, trap: false });
    await net.settled();
    const gone = b.whenExit(remote);
    a.exit(local, { exit: 'from a' });
    expect(await gone).toEqual({ exit: 'from a' });
  });

  it('link to a dead remote actor: noproc; unlink: nothing crosses', async () => {
    const { a, b, net } = twoNodes();
    const dead = await b.spawn(probe(), undefined);
    await b.stop(dead);
    const watcher = await a.spawn(probe({ trapExit: true }), undefined);
    await a.call(watcher, { type: 'link', to: dead });
    await net.settled();
    expect(await inbox(a, watcher)).toEqual([{ type: 'EXIT', from: dead, reason: 'noproc' }]);
    const alive = await b.spawn(probe(), undefined);
    const unlinker = await a.spawn<null, void, 'go', unknown, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall: (_r, _f, s, ctx) => {
          ctx.link(alive);
          ctx.unlink(alive);
          return { reply: 'ok', state: s };
        },
      },
      undefined,
    );
    await a.call(unlinker, 'go');
    await net.settled();
    b.exit(alive, 'kill');
    await net.settled();
    expect(a.isAlive(unlinker)).toBe(true);
  });

  it('nodedown: EXIT noconnection to a trapping actor, death to a non-trapping one, once', async () => {
    const { a, b, net } = twoNodes();
    const t1 = await b.spawn(probe(), undefined);
    const t2 = await b.spawn(probe(), undefined);
    const trapping = await a.spawn(probe({ trapExit: true }), undefined);
    await a.call(trapping, { type: 'link', to: t1 });
    const plain = await a.spawn(linker(), { to: t2, trap: false });
    await net.settled();
    const died = a.whenExit(plain);
    net.disconnect('b@host');
    b.exit(t1, 'kill');
    await net.settled();
    expect(await died).toBe('noconnection');
    expect(await inbox(a, trapping)).toEqual([
      { type: 'EXIT', from: t1, reason: 'noconnection' } satisfies ExitMessage,
    ]);
  });

  it('exit/2 across nodes: kill cannot be trapped; another reason arrives as EXIT from the sender', async () => {
    const { a, b, net } = twoNodes();
    const victim = await b.spawn(probe({ trapExit: true }), undefined);
    const trapper = await b.spawn(probe({ trapExit: true }), undefined);
    const sender = await a.spawn<null, void, 'go', unknown, never, never>(
      {
        init: () => ({ ok: null }),
        handleCall: (_r, _f, s, ctx) => {
          ctx.exit(trapper, { exit: 'hey' });
          return { reply: 'ok', state: s };
        },
      },
      undefined,
    );
    await a.call(sender, 'go');
    const killed = b.whenExit(victim);
    a.exit(victim, 'kill');
    expect(await killed).toBe('killed');
    await net.settled();
    expect(await inbox(b, trapper)).toEqual([{ type: 'EXIT', from: sender, reason: { exit: 'hey' } }]);
  });
});

describe('the distribution seam', () => {
  it('nodes() and isNodeUp follow the carrier; a second carrier is refused', async () => {
    const { a, net } = twoNodes();
    expect(a.nodes()).toEqual(['b@host']);
    expect([a.isNodeUp('a@host'), a.isNodeUp('b@host'), a.isNodeUp('c@host')]).toEqual([true, true, false]);
    net.disconnect('b@host');
    expect(a.nodes()).toEqual([]);
    expect(() => a.attachDistribution({ isUp: () => false, nodes: () => [], deliver: () => {} })).toThrow(
      DistributionError,
    );
  });

  it('without a carrier: a remote ref is noconnection (monitor, link, call), send and cast drop', async () => {
    const { system } = testSystem('solo@host');
    const { system: other } = testSystem('other@host');
    const remote = await other.spawn(probe(), undefined);
    const watcher = await system.spawn(probe({ trapExit: true }), undefined);
    const ref = (await system.call(watcher, { type: 'monitor', to: remote })) as MonitorRef;
    await system.call(watcher, { type: 'link', to: remote });
    expect(await inbox(system, watcher)).toEqual([
      { type: 'DOWN', ref, target: remote, reason: 'noconnection' } satisfies DownMessage,
      { type: 'EXIT', from: remote, reason: 'noconnection' },
    ]);
    await expect(system.call(remote, 'x')).rejects.toThrow(NoConnectionError);
    system.send(remote, 'x');
    system.cast(remote, 'x');
    expect(await inbox(other, remote)).toEqual([]);
  });

  it('reserveIds: ids handed out afterwards start at the floor', async () => {
    const { system } = testSystem('x@host');
    const port = system.attachDistribution({ isUp: () => false, nodes: () => [], deliver: () => {} });
    port.reserveIds(1_000_000);
    const ref = await system.spawn(probe(), undefined);
    expect(ref.id).toBeGreaterThanOrEqual(1_000_000);
    port.reserveIds(5); // never backwards
    expect((await system.spawn(probe(), undefined)).id).toBe(ref.id + 1);
    port.detach();
  });

  it('detach: every remote relation ends with noconnection', async () => {
    const { a, b, net } = twoNodes();
    const target = await b.spawn(probe(), undefined);
    const watcher = await a.spawn(probe({ trapExit: true }), undefined);
    const ref = (await a.call(watcher, { type: 'monitor', to: target })) as MonitorRef;
    await a.call(watcher, { type: 'link', to: target });
    await net.settled();
    net.close();
    current = undefined;
    expect(await inbox(a, watcher)).toEqual([
      { type: 'DOWN', ref, target, reason: 'noconnection' },
      { type: 'EXIT', from: target, reason: 'noconnection' },
    ]);
  });
});
