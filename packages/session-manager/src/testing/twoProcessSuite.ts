import { type ActorRef, ActorSystem, silentLogger } from '@otp-chat/actor';
import { jid } from '@otp-chat/jid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../Backend.ts';
import { SessionManager } from '../SessionManager.ts';
import { recorderConnection as recorder, SmNodeProcess } from './smNodeProcess.ts';

const HOST = 'example.com';

/** What {@link twoProcessSuite} needs from a backend's test file. */
export interface TwoProcessOptions<B extends Backend> {
  /**
   * Starts the shared store (a fresh namespace of it) and returns the parent's backend on it and
   * the arguments after which the fixture adds `<node> <host>`; `stop` disposes of the store.
   */
  start(): Promise<{ readonly backend: B; readonly fixtureArgs: readonly string[]; stop(): Promise<void> }>;
  /** A file that calls `serveSmNode` with a backend on the store its arguments name. */
  readonly fixture: string;
  /** The directory the fixture runs in (the repository root, where `tsx` resolves). */
  readonly cwd: string;
}

/**
 * Two session managers in two Node processes on one store: each sees and routes to the other's
 * sessions, each one's cache follows the other's writes (`ejabberd_sm`'s `sm_cache`, whatever the
 * invalidation channel), and when the child exits its rows stay until a survivor cleans its node and runs the
 * removal hooks (beyond `ejabberd_sm_redis` and `ejabberd_sm_sql`, which clean no dead node). For backends that cache per-user reads themselves (a warm read answers
 * synchronously), as Redis and SQL do by default. Registers one vitest `describe`.
 */
export function twoProcessSuite<B extends Backend>(label: string, options: TwoProcessOptions<B>): void {
  describe(`two session managers in two processes: ${label}`, () => {
    let child: SmNodeProcess | undefined;
    let system: ActorSystem;
    let backend: B;
    let sm: SessionManager;
    let stopStore: () => Promise<void> = async () => {};
    /** The parent's connection actors, for the terms the child routes to them. */
    const parentConns = new Map<string, ActorRef>();

    beforeAll(async () => {
      const store = await options.start();
      backend = store.backend;
      stopStore = () => store.stop();
      system = new ActorSystem({ node: 'parent', logger: silentLogger });
      sm = await SessionManager.start({
        system,
        hosts: [HOST],
        backends: { [HOST]: backend },
        logger: silentLogger,
        // The child's sessions: the term crosses the process boundary over IPC.
        remoteSend: (ref, message) => {
          if (ref.node !== 'child' || child === undefined) return false;
          void child.request({ op: 'deliver', ref: ref.id, message }).catch(() => {});
          return true;
        },
      });
      child = new SmNodeProcess(options.fixture, [...store.fixtureArgs, 'child', HOST], { cwd: options.cwd });
      // Terms the child routes to the parent's sessions.
      child.onRemote = (e) => {
        if (e.node === 'parent') {
          const target = [...parentConns.values()].find((c) => c.id === e.ref);
          if (target !== undefined) system.send(target, e.message);
        }
      };
      await child.ready;
    }, 60_000);

    afterAll(async () => {
      await child?.stop();
      await sm?.stop();
      await stopStore();
    });

    it('each sees the other’s sessions, routes to them, and sees the other’s cache invalidations', async () => {
      const c = child!;
      // The parent opens alice/phone; the child opens alice/tablet and bob/laptop.
      const phone = await system.spawn(recorder, undefined);
      parentConns.set('alice/phone', phone);
      const phoneSid = sm.makeSid(phone);
      await sm.openSession(phoneSid, 'alice', HOST, 'phone', 5);
      await c.request({ op: 'open', user: 'alice', resource: 'tablet', priority: 1 });
      await c.request({ op: 'open', user: 'bob', resource: 'laptop', priority: 0 });

      // Each sees the other's sessions: at once for rows it never read, and for alice (whose rows
      // the parent cached when it opened phone) once the child's invalidation has arrived.
      const all = [`alice@${HOST}/phone`, `alice@${HOST}/tablet`, `bob@${HOST}/laptop`];
      expect(await sm.getUserResources('bob', HOST)).toEqual(['laptop']);
      let mineNow = [...(await sm.getUserResources('alice', HOST))];
      while (mineNow.length < 2) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        mineNow = [...(await sm.getUserResources('alice', HOST))];
      }
      expect(mineNow.sort()).toEqual(['phone', 'tablet']);
      expect((await sm.dirtyGetSessionsList()).map(([u, s, r]) => `${u}@${s}/${r}`).sort()).toEqual(all);
      expect((await c.request<string[]>({ op: 'resources', user: 'alice' })).sort()).toEqual([
        'phone',
        'tablet',
      ]);
      expect(await c.request({ op: 'sessions' })).toEqual(all);

      // Routing across the process boundary, both ways.
      await sm.route(jid('bob', HOST, 'laptop'), { type: 'from-parent' });
      await c.request({ op: 'route', to: `alice@${HOST}/phone`, message: { type: 'from-child' } });
      let inbox = await c.request<unknown[]>({ op: 'inbox', user: 'bob', resource: 'laptop' });
      while (inbox.length === 0)
        inbox = await c.request<unknown[]>({ op: 'inbox', user: 'bob', resource: 'laptop' });
      expect(inbox).toEqual([{ type: 'from-parent' }]);
      let mine = (await system.call(phone, 'inbox')) as unknown[];
      while (mine.length === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        mine = (await system.call(phone, 'inbox')) as unknown[];
      }
      expect(mine).toEqual([{ type: 'from-child' }]);

      // The parent's cache holds alice (a warm read answers synchronously) ...
      const warm = backend.getSessions('alice', HOST);
      expect(Array.isArray(warm)).toBe(true);
      expect((warm as readonly unknown[]).length).toBe(2);
      // ... until the child closes alice/tablet: its invalidation reaches the parent's entry.
      await c.request({ op: 'close', user: 'alice', resource: 'tablet' });
      while (Array.isArray(backend.getSessions('alice', HOST))) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
      expect(await c.request({ op: 'resources', user: 'alice' })).toEqual(['phone']);

      // And the other way: the parent closes alice/phone; the child's (warm) answer follows.
      await sm.closeSession(phoneSid, 'alice', HOST, 'phone');
      let theirs = await c.request<string[]>({ op: 'resources', user: 'alice' });
      while (theirs.length > 0) theirs = await c.request<string[]>({ op: 'resources', user: 'alice' });
      expect(theirs).toEqual([]);
      expect(await c.request({ op: 'sessions' })).toEqual([`bob@${HOST}/laptop`]);
      expect(await sm.connectedUsers()).toEqual([`bob@${HOST}/laptop`]);
    });

    it('the child exits when asked; its rows stay until its node is cleaned (as ejabberd_sm_redis and ejabberd_sm_sql)', async () => {
      const c = child!;
      await c.request({ op: 'exit' });
      expect(await c.exited).toBe(0);
      // Its rows stay behind (ejabberd's Redis and SQL backends have no node-down clean-up) until its node
      // cleans them: here the parent does it for the dead node, as a cluster's node-down handler would.
      expect(await sm.getUserResources('bob', HOST)).toEqual(['laptop']);
      const removed: string[] = [];
      sm.hooks.add(
        'sm_remove_connection_hook',
        HOST,
        (_sid, j) => {
          removed.push(j.toString());
        },
        50,
      );
      expect(await sm.cleanNode('child')).toBe(1);
      expect(removed).toEqual([`bob@${HOST}/laptop`]); // the survivor ran the removal hook
      expect(await sm.connectedUsersNumber()).toBe(0);
    });
  });
}
