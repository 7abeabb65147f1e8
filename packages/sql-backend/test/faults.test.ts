import { ActorSystem, silentLogger, systemClock } from '@otp-chat/actor';
import { type Session, SessionManager } from '@otp-chat/session-manager';
import { cleanedRows, fakeRef, makeRow, outageWorkload } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, SqlTimeoutError } from '../src/errors.ts';
import { SqlBackend } from '../src/SqlBackend.ts';
import { canRunPostgresTests, PostgresServer, uniqueSchema } from '../src/testing/index.ts';

const HOSTS = ['a.example', 'b.example'] as const;

function sidKeys(rows: readonly Session[]): string[] {
  return rows.map((r) => `${r.luser}@${r.lserver}/${r.lresource}#${r.sid.key()}`).sort();
}

const ctx = { node: 'node1', hosts: HOSTS, logger: silentLogger, clock: systemClock };

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

// processone/ejabberd#1271: PostgreSQL killed (SIGKILL, postmaster and backends) under load and started
// again (crash recovery). The harness plays the session manager's part as the contract requires
// it: an open whose setSession failed is compensated with deleteSession, a close deletes by sid.
describe.runIf(canRunPostgresTests('SqlBackend fault tests', 'server'))(
  'SqlBackend under PostgreSQL crashes',
  () => {
    let server: PostgresServer;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };

    beforeAll(async () => {
      server = await PostgresServer.start();
      process.on('unhandledRejection', onUnhandled);
    });
    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      await server?.stop();
    });

    function backend(label: string): SqlBackend {
      return new SqlBackend({
        url: server.url,
        schema: uniqueSchema(label),
        reconnectInitialMs: 10,
        reconnectMaxMs: 50,
      });
    }

    it('10k operations across kill -9 and restart: typed failures only, the table equals the model afterwards', async () => {
      const b = backend('fault');
      await b.init(ctx);
      const result = await outageWorkload(
        b,
        {
          kill: () => server.kill(),
          whenDown: () => until(() => b.status === 'unavailable'),
          restart: () => server.restart(),
          whenSynced: () => b.whenSynced(),
        },
        { hosts: HOSTS },
      );
      expect(result.untyped).toEqual([]);
      expect(unhandled).toEqual([]);
      expect(result.failed).toBeGreaterThan(500); // the outage really happened under load
      expect(result.ok).toBeGreaterThan(5000);
      const rows = result.rows;
      expect(sidKeys(await b.getSessions())).toEqual(sidKeys(rows));
      for (const host of HOSTS) {
        expect(sidKeys(await b.getSessions(host))).toEqual(sidKeys(rows.filter((r) => r.lserver === host)));
      }
      for (const u of ['u1', 'u2', 'u3']) {
        expect(sidKeys(await b.getSessions(u, HOSTS[1]))).toEqual(
          sidKeys(rows.filter((r) => r.luser === u && r.lserver === HOSTS[1])),
        );
      }
      expect(sidKeys(await cleanedRows(b.cleanNode('node1')))).toEqual(sidKeys(rows));
      await b.stop();
    }, 120_000);

    it('fails fast with BackendUnavailableError while PostgreSQL is down, reads included, and never caches the failure', async () => {
      const b = backend('fast');
      await b.init(ctx);
      const row = makeRow('alice', HOSTS[0], 'r', 1);
      await b.setSession(row);
      await b.getSessions('alice', HOSTS[0]);
      expect(b.cacheSize).toBe(1);
      await server.kill();
      await until(() => b.status === 'unavailable');
      const results = await Promise.allSettled([
        b.setSession(makeRow('bob', HOSTS[0], 'r', 2)),
        b.deleteSession(row),
        Promise.resolve().then(() => b.getSessions('carol', HOSTS[0])),
        b.getSessions(HOSTS[0]),
        b.getSessions(),
        cleanedRows(b.cleanNode('node9')),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BackendUnavailableError);
      }
      // The cache was flushed when the notification connection went: no stale answer is served.
      expect(b.cacheSize).toBe(0);
      await expect(Promise.resolve().then(() => b.getSessions('alice', HOSTS[0]))).rejects.toBeInstanceOf(
        BackendUnavailableError,
      );
      await server.restart();
      await b.whenSynced();
      // The failed delete and set were replayed: alice is gone, bob is there.
      expect(await b.getSessions('alice', HOSTS[0])).toEqual([]);
      expect((await b.getSessions('bob', HOSTS[0])).map((r) => r.luser)).toEqual(['bob']);
      expect(await b.getSessions('carol', HOSTS[0])).toEqual([]);
      await b.stop();
    });

    it('writes waiting for replay are bounded (maxPendingWrites): the rest are dropped and counted', async () => {
      const b = new SqlBackend({ url: server.url, schema: uniqueSchema('bound'), maxPendingWrites: 5 });
      await b.init(ctx);
      await server.kill();
      await until(() => b.status === 'unavailable');
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => b.setSession(makeRow(`u${i}`, HOSTS[0], 'r', i + 1))),
      );
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      expect(b.pendingWrites).toBe(5);
      expect(b.droppedWrites).toBe(15);
      await server.restart();
      await b.whenSynced();
      expect(await b.getSessions()).toHaveLength(5);
      await b.stop();
    });

    it('a statement that does not answer in time is cancelled and rejects with BackendUnavailableError', async () => {
      const b = new SqlBackend({ url: server.url, schema: uniqueSchema('slow'), queryTimeoutMs: 300 });
      await b.init(ctx);
      const row = makeRow('alice', HOSTS[0], 'r', 1);
      await b.setSession(row);
      // Another session holds the row's lock: the upsert waits, and times out.
      const { default: postgres } = await import('postgres');
      const locker = postgres(server.url, { max: 1, onnotice: () => {} });
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tx = locker.begin(async (sql) => {
        await sql.unsafe(`SELECT * FROM "${b.schema}".sm FOR UPDATE`);
        await held;
      });
      await until(() => true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const error = await b.setSession(row.withPriority(4)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as BackendUnavailableError).cause).toBeInstanceOf(SqlTimeoutError);
      expect(b.pendingWrites).toBe(1); // outcome unknown: replayed
      release();
      await tx;
      await locker.end({ timeout: 1 });
      await b.whenSynced();
      expect((await b.getSessions('alice', HOSTS[0]))[0]?.priority).toBe(4);
      await b.stop();
    });

    it('SessionManager across an outage: a refused open leaves no row and a close deletes by sid, after the replay too (processone/ejabberd#1271)', async () => {
      const b = backend('smout');
      const system = new ActorSystem({ node: 'node1', logger: silentLogger });
      const sm = await SessionManager.start({
        system,
        hosts: [HOSTS[0]],
        backends: { [HOSTS[0]]: b },
        logger: silentLogger,
        remoteSend: () => true,
      });
      const errors: string[] = [];
      sm.events.on('backend_error', (e) => errors.push(e.operation));
      // Connections on another node: no liveness checks, so no read-repair gets in the way.
      const [alice, bob, carol] = [1, 2, 3].map((id) => sm.makeSid(fakeRef('conn-node', id)));
      await sm.openSession(alice!, 'alice', HOSTS[0], 'r');
      await sm.openSession(bob!, 'bob', HOSTS[0], 'r');
      await server.kill();
      await until(() => b.status === 'unavailable');

      // The connection is refused; the failed write is superseded by the compensating delete.
      await expect(sm.openSession(carol!, 'carol', HOSTS[0], 'r')).rejects.toBeInstanceOf(
        BackendUnavailableError,
      );
      // bob's rows cannot be read: deleted by sid anyway, the close resolves.
      await sm.closeSession(bob!, 'bob', HOSTS[0], 'r');
      expect(errors).toEqual(['setSession', 'deleteSession', 'getSessions', 'deleteSession']);
      expect(b.pendingWrites).toBe(2); // delete carol, delete bob

      await server.restart();
      await b.whenSynced();
      expect(sidKeys(await b.getSessions())).toEqual([`alice@${HOSTS[0]}/r#${alice!.key()}`]);
      expect(await sm.connectedUsers()).toEqual([`alice@${HOSTS[0]}/r`]);
      await sm.closeSession(alice!, 'alice', HOSTS[0], 'r');
      await sm.stop();
    });

    it('a restart init during an outage (backend actor restarted) resolves, keeps the writes waiting for replay, deletes nothing', async () => {
      const b = backend('restart');
      const withIncarnation = { ...ctx, incarnation: 'run-1' };
      await b.init(withIncarnation);
      const kept = makeRow('alice', HOSTS[0], 'r', 1);
      const closed = makeRow('bob', HOSTS[0], 'r', 2);
      await b.setSession(kept);
      await b.setSession(closed);
      await server.kill();
      await until(() => b.status === 'unavailable');
      const added = makeRow('carol', HOSTS[1], 'r', 3);
      await expect(b.setSession(added)).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(b.deleteSession(closed)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(b.pendingWrites).toBe(2);
      await b.init(withIncarnation); // the backend actor crashed meanwhile and was restarted
      expect(b.status).toBe('unavailable');
      expect(b.pendingWrites).toBe(2);
      await server.restart();
      await b.whenSynced();
      expect(sidKeys(await b.getSessions())).toEqual(sidKeys([kept, added]));
      await b.stop();
    });

    it('a frozen PostgreSQL (SIGSTOP), on the defaults: the backend’s own timeout answers before the session manager’s, then calls fail fast; after SIGCONT all is replayed', async () => {
      const b = new SqlBackend({ url: server.url, schema: uniqueSchema('frozen') }); // DEFAULTS
      const system = new ActorSystem({ node: 'node1', logger: silentLogger });
      const sm = await SessionManager.start({
        system,
        hosts: [HOSTS[0]],
        backends: { [HOSTS[0]]: b },
        logger: silentLogger,
        remoteSend: () => true,
      });
      const [alice, bob, carol] = [1, 2, 3].map((id) => sm.makeSid(fakeRef('conn-node', id)));
      await sm.openSession(alice!, 'alice', HOSTS[0], 'r');
      server.pause();
      try {
        // queryTimeoutMs (2 s, at most 2.5 s) fires before backendTimeoutMs (3 s): the error is the
        // backend's own, typed, and the write is kept for replay.
        const slow = await Promise.resolve()
          .then(() => sm.openSession(bob!, 'bob', HOSTS[0], 'r'))
          .catch((e: unknown) => e);
        expect(slow).toBeInstanceOf(BackendUnavailableError);
        expect((slow as BackendUnavailableError).cause).toBeInstanceOf(SqlTimeoutError);
        // The notification connection's heartbeat finds it frozen: from then on, no waiting.
        await until(() => b.status === 'unavailable');
        const fast = await Promise.resolve()
          .then(() => sm.openSession(carol!, 'carol', HOSTS[0], 'r'))
          .catch((e: unknown) => e);
        expect(fast).toBeInstanceOf(BackendUnavailableError);
        expect((fast as BackendUnavailableError).cause).toBeUndefined(); // refused at once, no timeout
      } finally {
        server.resume();
      }
      await b.whenSynced();
      // The refused opens were compensated (their rows deleted); alice's row is there.
      expect(sidKeys(await b.getSessions())).toEqual([`alice@${HOSTS[0]}/r#${alice!.key()}`]);
      await sm.openSession(bob!, 'bob', HOSTS[0], 'r');
      expect((await sm.connectedUsers()).sort()).toEqual([`alice@${HOSTS[0]}/r`, `bob@${HOSTS[0]}/r`]);
      await sm.stop();
    }, 60_000);

    describe('the database comes back without this node’s rows: BackendInitContext.storeLost', () => {
      it('restarted with its data: storeLost is not called; restarted on an empty data directory (a fresh database): the table is migrated again, storeLost is called once, writes that failed meanwhile are replayed', async () => {
        const b = backend('fresh');
        let lost = 0;
        await b.init({ ...ctx, storeLost: () => void lost++ });
        const alice = makeRow('alice', HOSTS[0], 'r', 1);
        await b.setSession(alice);

        await server.kill();
        await until(() => b.status === 'unavailable');
        await server.restart();
        await b.whenSynced();
        expect(lost).toBe(0);
        expect(sidKeys(await b.getSessions())).toEqual(sidKeys([alice]));

        await server.kill();
        await until(() => b.status === 'unavailable');
        const bob = makeRow('bob', HOSTS[0], 'r', 2);
        await expect(b.setSession(bob)).rejects.toBeInstanceOf(BackendUnavailableError);
        await server.restartEmpty();
        await b.whenSynced(); // resolves once the store was checked, storeLost called, bob replayed
        expect(lost).toBe(1);
        expect(sidKeys(await b.getSessions())).toEqual(sidKeys([bob]));
        // What the session manager has its live connections do on storeLost: write their rows again.
        await b.setSession(alice);
        expect(sidKeys(await b.getSessions())).toEqual(sidKeys([alice, bob]));
        // The marker is back: the next restart with the data is not a loss.
        await server.kill();
        await until(() => b.status === 'unavailable');
        await server.restart();
        await b.whenSynced();
        expect(lost).toBe(1);
        await b.stop();
      }, 60_000);

      it('TRUNCATE sm while running: every node on the table is notified, flushes its cache and calls storeLost', async () => {
        const schema = uniqueSchema('trunc');
        const nodes = ['node1', 'node2'].map((node) => ({
          node,
          b: new SqlBackend({ url: server.url, schema }),
        }));
        const counts = new Map<string, number>();
        for (const n of nodes) {
          await n.b.init({
            ...ctx,
            node: n.node,
            storeLost: () => counts.set(n.node, (counts.get(n.node) ?? 0) + 1),
          });
        }
        const [one, two] = nodes;
        const alice = makeRow('alice', HOSTS[0], 'r', 1);
        await one!.b.setSession(alice);
        // Both caches hold alice's rows (a read that an invalidation overtook is not cached: read again).
        for (const n of nodes) {
          while (n.b.cacheSize === 0) {
            expect(sidKeys(await n.b.getSessions('alice', HOSTS[0]))).toEqual(sidKeys([alice]));
          }
        }
        const { default: postgres } = await import('postgres');
        const admin = postgres(server.url, { max: 1, onnotice: () => {} });
        try {
          await admin.unsafe(`TRUNCATE "${schema}".sm`);
          await until(() => counts.get('node1') === 1 && counts.get('node2') === 1);
          // No stale answer from either cache.
          expect(await one!.b.getSessions('alice', HOSTS[0])).toEqual([]);
          expect(await two!.b.getSessions('alice', HOSTS[0])).toEqual([]);
          // Each node wrote its marker again (before calling storeLost).
          const markers = await admin.unsafe(`SELECT node FROM "${schema}".otp_chat_sm_node ORDER BY node`);
          expect(markers.map((m) => m.node)).toEqual(['node1', 'node2']);
        } finally {
          await admin.end({ timeout: 1 });
        }
        for (const n of nodes) await n.b.stop();
      });
    });

    it('init rejects with BackendUnavailableError while PostgreSQL is down, and a later init recovers', async () => {
      await server.kill();
      const b = new SqlBackend({ url: server.url, schema: uniqueSchema('init'), connectTimeoutMs: 500 });
      await expect(b.init(ctx)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(b.status).toBe('stopped');
      await server.restart();
      await b.init(ctx);
      expect(b.status).toBe('ready');
      await b.stop();
    });
  },
);
