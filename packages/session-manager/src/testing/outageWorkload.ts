import type { Backend } from '../Backend.ts';
import { BackendUnavailableError } from '../errors.ts';
import type { Session } from '../Session.ts';
import { makeRow } from './rows.ts';

/** How {@link outageWorkload} crashes the store and brings it back. */
export interface OutageControl {
  /** Kills the store (SIGKILL) and resolves once it is gone. */
  kill(): Promise<void>;
  /** Resolves once the backend knows the store is down (its calls fail fast from then on). */
  whenDown(): Promise<void>;
  /** Starts the store again (same data). */
  restart(): Promise<void>;
  /** Resolves once the backend is reconnected and has replayed the writes that failed. */
  whenSynced(): Promise<void>;
}

/** What {@link outageWorkload} saw. */
export interface OutageResult {
  /** Rows acknowledged open and not closed: what the store must hold afterwards. */
  readonly rows: readonly Session[];
  readonly ok: number;
  readonly failed: number;
  /** Failures that were not `BackendUnavailableError` (must be none). */
  readonly untyped: readonly unknown[];
}

/** A small deterministic PRNG (mulberry32), so that every run issues the same operations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `total` session writes and reads on `backend` (100 in flight) across a crash of its store and a
 * restart, playing the session manager's part as the backend contract requires it: an open whose
 * `setSession` failed is compensated with `deleteSession` (the connection is refused), a close
 * always deletes by sid. The store is killed at 30 % with a window of operations in flight; from
 * 60 % the calls run against the dead store (they must fail fast); it restarts at 65 %.
 * Afterwards the store must hold exactly `result.rows` (processone/ejabberd#1271).
 */
export async function outageWorkload(
  backend: Backend,
  control: OutageControl,
  options: { readonly hosts: readonly [string, string]; readonly total?: number; readonly seed?: number },
): Promise<OutageResult> {
  const hosts = options.hosts;
  const total = options.total ?? 10_000;
  const random = prng(options.seed ?? 1271);
  const model = new Map<string, Session>();
  const open: Session[] = []; // candidates for close / update / read (a subset of the model)
  const untyped: unknown[] = [];
  let ok = 0;
  let failed = 0;
  let counter = 0;

  const fail = (error: unknown): void => {
    failed++;
    if (!(error instanceof BackendUnavailableError)) untyped.push(error);
  };
  const openOne = async (): Promise<void> => {
    counter++;
    const row = makeRow(`u${counter % 500}`, hosts[counter % 2]!, `r${counter % 3}`, counter, {
      priority: counter % 7,
    });
    try {
      await backend.setSession(row);
      ok++;
      model.set(row.sid.key(), row);
      open.push(row);
    } catch (error) {
      fail(error);
      // The connection is refused: the row must not survive (compensation, replayed if need be).
      await Promise.resolve()
        .then(() => backend.deleteSession(row))
        .catch(fail);
    }
  };
  const pick = (): Session => open[Math.floor(random() * open.length)]!;
  const closeOne = async (): Promise<void> => {
    const i = Math.floor(random() * open.length);
    const row = open[i]!;
    open[i] = open[open.length - 1]!;
    open.pop();
    model.delete(row.sid.key());
    try {
      await backend.deleteSession(row);
      ok++;
    } catch (error) {
      fail(error);
    }
  };
  const updateOne = async (): Promise<void> => {
    try {
      await backend.setSession(pick().withPriority(-1));
      ok++;
    } catch (error) {
      fail(error);
    }
  };
  const readOne = async (): Promise<void> => {
    const row = pick();
    try {
      await backend.getSessions(row.luser, row.lserver);
      ok++;
    } catch (error) {
      fail(error);
    }
  };
  const step = (): Promise<void> => {
    const r = random();
    if (open.length < 10 || r < 0.45) return openOne();
    if (r < 0.75) return closeOne();
    return r < 0.85 ? updateOne() : readOne();
  };

  let issued = 0;
  const run = async (until: number): Promise<void> => {
    const inFlight = new Set<Promise<void>>();
    while (issued < until) {
      issued++;
      const p: Promise<void> = step().finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 100) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  };

  await run(Math.floor(total * 0.3));
  const killed = control.kill(); // while a window of operations is in flight
  await run(Math.floor(total * 0.6));
  await killed;
  await control.whenDown();
  await run(Math.floor(total * 0.65));
  await control.restart();
  await control.whenSynced();
  await run(total);
  await control.whenSynced();
  return { rows: [...model.values()], ok, failed, untyped };
}
