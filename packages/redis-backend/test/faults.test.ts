import { ActorSystem, silentLogger, systemClock } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { type Session, SessionManager } from '@otp-chat/session-manager';
import { cleanedRows, fakeRef, makeRow, outageWorkload } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../src/errors.ts';
import { RedisBackend } from '../src/RedisBackend.ts';
import { canRunRedisTests, RedisServer } from '../src/testing/index.ts';

const HOSTS = ['a.example', 'b.example'] as const;

function sidKeys(rows: readonly Session[]): string[] {
  return rows.map((r) => `${r.luser}@${r.lserver}/${r.lresource}#${r.sid.key()}`).sort();
}

// processone/ejabberd#1271: Redis killed (SIGKILL) under load and started again. The harness plays the
// session manager's part as the contract requires it: an open whose setSession failed is
// compensated with deleteSession (the connection is refused), a close always deletes by sid.
describe.skipIf(!canRunRedisTests('RedisBackend fault tests', 'server'))(
  'RedisBackend under Redis crashes',
  () => {
    let server: RedisServer;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };

    beforeAll(async () => {
      // Persistent (AOF, fsync always): a killed Redis comes back with every acknowledged write.
      server = await RedisServer.start({ persistent: true });
      process.on('unhandledRejection', onUnhandled);
    });
    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      await server.stop();
    });

    it('10k operations across kill -9 and restart: typed failures only, store equals the model afterwards', async () => {
      const backend = new RedisBackend({
        url: server.url,
        prefix: 'fault',
        reconnectInitialMs: 10,
        reconnectMaxMs: 50,
      });
      await backend.init({ node: 'node1', hosts: HOSTS, logger: silentLogger, clock: systemClock });
      const result = await outageWorkload(
        backend,
        {
          kill: () => server.kill(),
          whenDown: async () => {
            while (backend.status !== 'unavailable') await new Promise((resolve) => setImmediate(resolve));
          },
          restart: () => server.restart(),
          whenSynced: () => backend.whenSynced(),
        },
        { hosts: HOSTS },
      );

      expect(result.untyped).toEqual([]);
      expect(unhandled).toEqual([]);
      expect(result.failed).toBeGreaterThan(1000); // the outage really happened under load
      expect(result.ok).toBeGreaterThan(5000);
      const rows = result.rows;
      expect(sidKeys(await backend.getSessions())).toEqual(sidKeys(rows));
      for (const host of HOSTS) {
        expect(sidKeys(await backend.getSessions(host))).toEqual(
          sidKeys(rows.filter((r) => r.lserver === host)),
        );
      }
      for (const u of ['u1', 'u2', 'u3']) {
        expect(sidKeys(await backend.getSessions(u, HOSTS[1]))).toEqual(
          sidKeys(rows.filter((r) => r.luser === u && r.lserver === HOSTS[1])),
        );
      }
      // No ghost in the node index either: cleaning node1 removes exactly the model's rows.
      expect(sidKeys(await cleanedRows(backend.cleanNode('node1')))).toEqual(sidKeys(rows));
      await backend.stop();
    });

    it('fails fast with BackendUnavailableError while Redis is down, reads included, and never caches the failure', async () => {
      const backend = new RedisBackend({
        url: server.url,
        prefix: 'fast',
        reconnectInitialMs: 10,
        reconnectMaxMs: 50,
      });
      await backend.init({ node: 'node1', hosts: HOSTS, logger: silentLogger, clock: systemClock });
      const row = makeRow('alice', HOSTS[0], 'r', 1);
      await backend.setSession(row);
      expect(backend.cacheSize).toBe(1); // filled by the write's own HGETALL
      await server.kill();
      const results = await Promise.allSettled([
        backend.setSession(makeRow('bob', HOSTS[0], 'r', 2)),
        backend.deleteSession(row),
        Promise.resolve().then(() => backend.getSessions('carol', HOSTS[0])),
        backend.getSessions(HOSTS[0]),
        backend.getSessions(),
        cleanedRows(backend.cleanNode('node9')),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BackendUnavailableError);
      }
      // The cache was flushed when the connection went: no stale answer is served.
      expect(backend.cacheSize).toBe(0);
      await expect(
        Promise.resolve().then(() => backend.getSessions('alice', HOSTS[0])),
      ).rejects.toBeInstanceOf(BackendUnavailableError);
      await server.restart();
      await backend.whenSynced();
      // The failed delete and set were replayed: alice is gone, bob is there.
      expect(sidKeys(await backend.getSessions('alice', HOSTS[0]))).toEqual([]);
      expect((await backend.getSessions('bob', HOSTS[0])).map((r) => r.luser)).toEqual(['bob']);
      expect(await backend.getSessions('carol', HOSTS[0])).toEqual([]);
      await cleanedRows(backend.cleanNode('node1'));
      await backend.stop();
    });

    it('SessionManager across an outage: a refused open leaves no row and a close deletes by sid, after the replay too (processone/ejabberd#1271)', async () => {
      const backend = new RedisBackend({
        url: server.url,
        prefix: 'sm-outage',
        reconnectInitialMs: 10,
        reconnectMaxMs: 50,
      });
      const system = new ActorSystem({ node: 'node1', logger: silentLogger });
      const sm = await SessionManager.start({
        system,
        hosts: [HOSTS[0]],
        backends: { [HOSTS[0]]: backend },
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
      await eventually(
        'the backend to see Redis gone',
        () => backend.status,
        (s) => s === 'unavailable',
      );

      // The connection is refused; the failed write is superseded by the compensating delete.
      await expect(sm.openSession(carol!, 'carol', HOSTS[0], 'r')).rejects.toBeInstanceOf(
        BackendUnavailableError,
      );
      // bob's rows cannot be read: deleted by sid anyway, the close resolves.
      await sm.closeSession(bob!, 'bob', HOSTS[0], 'r');
      expect(errors).toEqual(['setSession', 'deleteSession', 'getSessions', 'deleteSession']);
      expect(backend.pendingWrites).toBe(2); // delete carol, delete bob

      await server.restart();
      await backend.whenSynced();
      expect(sidKeys(await backend.getSessions())).toEqual([`alice@${HOSTS[0]}/r#${alice!.key()}`]);
      expect(await sm.connectedUsers()).toEqual([`alice@${HOSTS[0]}/r`]);
      await sm.closeSession(alice!, 'alice', HOSTS[0], 'r');
      await sm.stop();
    });

    it('a restart init during an outage (backend actor restarted) resolves, keeps the writes waiting for replay, deletes nothing', async () => {
      const backend = new RedisBackend({
        url: server.url,
        prefix: 'restart',
        reconnectInitialMs: 10,
        reconnectMaxMs: 50,
      });
      const ctx = {
        node: 'node1',
        hosts: HOSTS,
        logger: silentLogger,
        clock: systemClock,
        incarnation: 'run-1',
      };
      await backend.init(ctx);
      const kept = makeRow('alice', HOSTS[0], 'r', 1);
      const closed = makeRow('bob', HOSTS[0], 'r', 2);
      await backend.setSession(kept);
      await backend.setSession(closed);
      await server.kill();
      await eventually(
        'the backend to see Redis gone',
        () => backend.status,
        (s) => s === 'unavailable',
      );
      const added = makeRow('carol', HOSTS[1], 'r', 3);
      await expect(backend.setSession(added)).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(backend.deleteSession(closed)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(backend.pendingWrites).toBe(2);
      await backend.init(ctx); // the backend actor crashed meanwhile and was restarted
      expect(backend.status).toBe('unavailable');
      expect(backend.pendingWrites).toBe(2);
      await server.restart();
      await backend.whenSynced();
      expect(sidKeys(await backend.getSessions())).toEqual(sidKeys([kept, added]));
      await cleanedRows(backend.cleanNode('node1'));
      await backend.stop();
    });

    it('init rejects with BackendUnavailableError when Redis is unreachable, and a later init recovers', async () => {
      await server.kill();
      const backend = new RedisBackend({
        url: server.url,
        prefix: 'init',
        reconnectInitialMs: 10,
        connectTimeoutMs: 500,
      });
      const ctx = { node: 'node1', hosts: HOSTS, logger: silentLogger, clock: systemClock };
      await expect(backend.init(ctx)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(backend.status).toBe('stopped');
      await server.restart();
      await backend.init(ctx);
      expect(backend.status).toBe('ready');
      await backend.stop();
    });
  },
);
