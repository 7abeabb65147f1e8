import { type MaybePromise, silentLogger, systemClock } from '@otp-chat/actor';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../Backend.ts';
import { Session } from '../Session.ts';
import { cleanedRows, makeRow } from './rows.ts';

/** The virtual hosts the suite writes to; a backend under test must accept both. */
export const CONFORMANCE_HOSTS = ['a.example', 'b.example'] as const;

/** How the suite gets a fresh, empty backend for each test and disposes of it. */
export interface BackendFactory<B extends Backend = Backend> {
  /** A new backend, not yet initialised, over an empty store for {@link CONFORMANCE_HOSTS}. */
  create(): MaybePromise<B>;
  /** Called after each test (stop the backend, flush the store). */
  destroy?(backend: B): MaybePromise<void>;
  /** The node name passed to `init`. @default 'node1' */
  readonly node?: string;
}

const [A, B] = CONFORMANCE_HOSTS;

function key(s: Session): string {
  return `${s.luser}@${s.lserver}/${s.lresource}#${s.sid.key()}`;
}

function keys(rows: readonly Session[]): string[] {
  return rows.map(key).sort();
}

/**
 * Registers a vitest `describe` block that checks `factory`'s backend against the contract of
 * `Backend` (ejabberd_sm's backend `-callback`s, plus the node clean-up of `cleanNode`). Every backend runs it: the memory
 * backend in this package, Redis and SQL in theirs.
 */
export function backendConformance<B extends Backend>(label: string, factory: BackendFactory<B>): void {
  describe(`Backend conformance: ${label}`, () => {
    let backend: B;

    beforeEach(async () => {
      backend = await factory.create();
      await backend.init({
        node: factory.node ?? 'node1',
        hosts: CONFORMANCE_HOSTS,
        logger: silentLogger,
        clock: systemClock,
      });
    });

    afterEach(async () => {
      await factory.destroy?.(backend);
    });

    it('has a name', () => {
      expect(typeof backend.name).toBe('string');
      expect(backend.name.length).toBeGreaterThan(0);
    });

    it('starts empty for every read (get_sessions/0,1,2)', async () => {
      expect(await backend.getSessions()).toEqual([]);
      expect(await backend.getSessions(A)).toEqual([]);
      expect(await backend.getSessions('alice', A)).toEqual([]);
    });

    it('returns a written row from all three reads, with every field intact', async () => {
      const row = makeRow('alice', A, 'phone', 1, { priority: 5, info: { conn: 'c2s', ip: '127.0.0.1' } });
      await backend.setSession(row);
      for (const rows of [
        await backend.getSessions(),
        await backend.getSessions(A),
        await backend.getSessions('alice', A),
      ]) {
        expect(rows).toHaveLength(1);
        const got = rows[0]!;
        expect(got).toBeInstanceOf(Session);
        expect(got.sid.equals(row.sid)).toBe(true);
        expect(got.sid.ref.equals(row.sid.ref)).toBe(true);
        expect(got.usr).toEqual(['alice', A, 'phone']);
        expect(got.us).toEqual(['alice', A]);
        expect(got.priority).toBe(5);
        expect(got.info).toEqual({ conn: 'c2s', ip: '127.0.0.1' });
      }
    });

    it('keeps priority undefined as undefined, never 0 (prio() :: undefined | integer())', async () => {
      await backend.setSession(makeRow('alice', A, 'r', 1));
      const [got] = await backend.getSessions('alice', A);
      expect(got!.priority).toBeUndefined();
    });

    it('keeps negative priorities', async () => {
      await backend.setSession(makeRow('alice', A, 'r', 1, { priority: -3 }));
      const [got] = await backend.getSessions('alice', A);
      expect(got!.priority).toBe(-3);
    });

    it('setSession is an upsert keyed by sid (set_session/1)', async () => {
      const row = makeRow('alice', A, 'r', 1);
      await backend.setSession(row);
      await backend.setSession(row.withPriority(7));
      await backend.setSession(row.withPriority(8).withInfo({ carboncopy: true }));
      const rows = await backend.getSessions('alice', A);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.priority).toBe(8);
      expect(rows[0]!.info).toEqual({ carboncopy: true });
      expect(await backend.getSessions()).toHaveLength(1);
      expect(await backend.getSessions(A)).toHaveLength(1);
    });

    it('keeps several rows for one full JID (replacement in progress)', async () => {
      const old = makeRow('alice', A, 'r', 1);
      const newer = makeRow('alice', A, 'r', 2);
      await backend.setSession(old);
      await backend.setSession(newer);
      expect(keys(await backend.getSessions('alice', A))).toEqual(keys([old, newer]));
    });

    it('deleteSession removes exactly the row with that sid (esl/MongooseIM#4788)', async () => {
      const r1 = makeRow('alice', A, 'r', 1);
      const r2 = makeRow('alice', A, 'r', 2);
      const r3 = makeRow('alice', A, 'other', 3);
      for (const r of [r1, r2, r3]) await backend.setSession(r);
      await backend.deleteSession(r1);
      expect(keys(await backend.getSessions('alice', A))).toEqual(keys([r2, r3]));
      expect(keys(await backend.getSessions(A))).toEqual(keys([r2, r3]));
      expect(keys(await backend.getSessions())).toEqual(keys([r2, r3]));
    });

    it('deleteSession matches by sid value, not by object identity', async () => {
      const row = makeRow('alice', A, 'r', 1, { priority: 1 });
      await backend.setSession(row);
      const copy = Session.fromJSON(JSON.parse(JSON.stringify(row)));
      await backend.deleteSession(copy.withPriority(99));
      expect(await backend.getSessions('alice', A)).toEqual([]);
    });

    it('deleting a missing row is a no-op', async () => {
      const kept = makeRow('bob', A, 'r', 2);
      await backend.setSession(kept);
      await backend.deleteSession(makeRow('alice', A, 'r', 1));
      await backend.deleteSession(makeRow('bob', A, 'r', 99));
      expect(keys(await backend.getSessions())).toEqual(keys([kept]));
    });

    it('keeps virtual hosts apart (getSessions(server), same user name on two hosts)', async () => {
      const a = makeRow('alice', A, 'r', 1);
      const b = makeRow('alice', B, 'r', 2);
      await backend.setSession(a);
      await backend.setSession(b);
      expect(keys(await backend.getSessions(A))).toEqual(keys([a]));
      expect(keys(await backend.getSessions(B))).toEqual(keys([b]));
      expect(keys(await backend.getSessions('alice', A))).toEqual(keys([a]));
      expect(keys(await backend.getSessions('alice', B))).toEqual(keys([b]));
      expect(keys(await backend.getSessions())).toEqual(keys([a, b]));
    });

    it('keeps users apart', async () => {
      const a = makeRow('alice', A, 'r', 1);
      const b = makeRow('bob', A, 'r', 2);
      await backend.setSession(a);
      await backend.setSession(b);
      expect(keys(await backend.getSessions('alice', A))).toEqual(keys([a]));
      expect(keys(await backend.getSessions('bob', A))).toEqual(keys([b]));
      expect(await backend.getSessions('carol', A)).toEqual([]);
    });

    it('stores user, server and resource strings verbatim (they arrive prepared)', async () => {
      const row = makeRow('ali:ce', A, 'res/with@odd||chars', 1);
      await backend.setSession(row);
      expect(keys(await backend.getSessions('ali:ce', A))).toEqual(keys([row]));
    });

    it('cleanNode removes and returns only the rows of that node, idempotently', async () => {
      const mine = makeRow('alice', A, 'r1', 1, { node: 'node1' });
      const dead1 = makeRow('alice', A, 'r2', 2, { node: 'node2' });
      const dead2 = makeRow('bob', B, 'r', 3, { node: 'node2' });
      for (const r of [mine, dead1, dead2]) await backend.setSession(r);
      expect(keys(await cleanedRows(backend.cleanNode('node2')))).toEqual(keys([dead1, dead2]));
      expect(keys(await backend.getSessions())).toEqual(keys([mine]));
      expect(keys(await backend.getSessions('alice', A))).toEqual(keys([mine]));
      expect(await backend.getSessions(B)).toEqual([]);
      expect(await cleanedRows(backend.cleanNode('node2'))).toEqual([]);
      expect(await cleanedRows(backend.cleanNode('node3'))).toEqual([]);
    });

    it('handles many users and rows consistently', async () => {
      const rows: Session[] = [];
      for (let i = 0; i < 60; i++) {
        rows.push(makeRow(`u${i % 20}`, i % 2 === 0 ? A : B, `r${i % 3}`, i + 1, { priority: i % 5 }));
      }
      for (const r of rows) await backend.setSession(r);
      expect(keys(await backend.getSessions())).toEqual(keys(rows));
      expect(keys(await backend.getSessions(A))).toEqual(keys(rows.filter((r) => r.lserver === A)));
      expect(keys(await backend.getSessions('u4', A))).toEqual(
        keys(rows.filter((r) => r.luser === 'u4' && r.lserver === A)),
      );
      for (const r of rows.filter((_, i) => i % 3 === 0)) await backend.deleteSession(r);
      expect(keys(await backend.getSessions())).toEqual(keys(rows.filter((_, i) => i % 3 !== 0)));
    });

    it('reads are snapshots: later writes do not change an answer already returned', async () => {
      await backend.setSession(makeRow('alice', A, 'r1', 1));
      const before = await backend.getSessions('alice', A);
      await backend.setSession(makeRow('alice', A, 'r2', 2));
      expect(before).toHaveLength(1);
      expect(await backend.getSessions('alice', A)).toHaveLength(2);
    });

    it('is empty again once every row is deleted', async () => {
      const rows = [makeRow('alice', A, 'r', 1), makeRow('alice', A, 'r', 2), makeRow('bob', B, 'r', 3)];
      for (const r of rows) await backend.setSession(r);
      for (const r of rows) await backend.deleteSession(r);
      expect(await backend.getSessions()).toEqual([]);
      expect(await backend.getSessions(A)).toEqual([]);
      expect(await backend.getSessions('alice', A)).toEqual([]);
    });
  });
}
