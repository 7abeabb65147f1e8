// Helpers shared by the session-store benchmarks (bench/redis-backend.ts, bench/sql-backend.ts):
// a sink connection, a session manager on one backend, concurrent callers, and warm routing
// against the memory backend.
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { jid } from '@otp-chat/jid';
import { type Backend, MemoryBackend, SessionManager } from '@otp-chat/session-manager';
import { type Measurement, measure } from '../lib.ts';

export const HOST = 'bench.example';
/** Concurrent callers of the open/close cases. */
export const CALLERS = 200;

/** A connection actor that drops whatever it receives (routing's destination). */
export const sink: GenServer<number, void, 'sync', number> = {
  init: () => ({ ok: 0 }),
  handleInfo: (_m, n) => ({ noreply: true, state: n + 1 }),
  handleCall: (_r, _f, n) => ({ reply: n, state: n }),
};

export async function startSm(
  backend: Backend,
  node: string,
): Promise<{ sm: SessionManager; system: ActorSystem }> {
  const system = new ActorSystem({ node, logger: silentLogger });
  const sm = await SessionManager.start({
    system,
    hosts: [HOST],
    backends: { [HOST]: backend },
    logger: silentLogger,
  });
  return { sm, system };
}

/** `ops` operations spread over {@link CALLERS} concurrent callers, each awaiting its own in sequence. */
export async function concurrently(
  ops: number,
  one: (caller: number, i: number) => Promise<void>,
): Promise<void> {
  const per = Math.ceil(ops / CALLERS);
  const callers: Promise<void>[] = [];
  for (let c = 0; c < CALLERS; c++) {
    callers.push(
      (async () => {
        for (let i = 0; i < per; i++) await one(c, i);
      })(),
    );
  }
  await Promise.all(callers);
}

/** `route(jid, term)` `n` times, awaiting only when the backend answered with a promise. */
export function routeRounds(sm: SessionManager, system: ActorSystem, ref: ActorRef) {
  const target = jid('alice', HOST, 'phone');
  const term = { type: 'bench' };
  return async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const r = sm.route(target, term);
      if (r instanceof Promise) await r;
    }
    await system.call(ref, 'sync');
  };
}

/**
 * Routing to a full JID (alice/phone) on `sm` (warm cache) against the memory backend, interleaved
 * so that machine noise hits both alike. Opens alice/phone on both; stops the memory one.
 */
export async function routeWarmVsMemory(
  label: string,
  sm: SessionManager,
  system: ActorSystem,
): Promise<{ store: Measurement; memory: Measurement; alice: ActorRef }> {
  const alice = await system.spawn(sink, undefined);
  await sm.openSession(sm.makeSid(alice), 'alice', HOST, 'phone', 1);
  const memory = await startSm(new MemoryBackend(), 'bench-memory');
  const aliceMem = await memory.system.spawn(sink, undefined);
  await memory.sm.openSession(memory.sm.makeSid(aliceMem), 'alice', HOST, 'phone', 1);
  const ROUTES = 200_000;
  let store: Measurement | undefined;
  let mem: Measurement | undefined;
  for (let round = 0; round < 2; round++) {
    store = await measure(
      `route full JID (${label}, warm cache)`,
      { ops: ROUTES, rounds: 3, warmup: 1 },
      routeRounds(sm, system, alice),
    );
    mem = await measure(
      'route full JID (MemoryBackend)',
      { ops: ROUTES, rounds: 3, warmup: 1 },
      routeRounds(memory.sm, memory.system, aliceMem),
    );
  }
  await memory.sm.stop();
  return { store: store!, memory: mem!, alice };
}
