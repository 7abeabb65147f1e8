import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { jid } from '@otp-chat/jid';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../Backend.ts';
import { SessionManager } from '../SessionManager.ts';
import { backendActors } from './backendActors.ts';
import { recorderConnection as recorder } from './smNodeProcess.ts';

const HOST = 'example.com';

/** A backend over a shared store that tells when it is synced and where its connection stands. */
export type SharedStoreBackend = Backend & {
  readonly status: string;
  whenSynced(): Promise<void>;
};

/** What {@link twoNodesSuite} needs from a backend's test file (inside its own `describe`). */
export interface TwoNodesOptions<B extends SharedStoreBackend> {
  /** A fresh namespace of the store (a key prefix, a schema), shared by the backends of one test. */
  newStore(): string;
  /** A backend, not yet initialised, on the namespace `store`. */
  createBackend(store: string): B;
  /**
   * Writes `count` rows of the dead node `node` on the host `host` straight into the store's
   * namespace `store` (users `u0`…, resource `r`, as `makeRow(\`u${i}\`, host, 'r', i + 1, { node })`
   * makes them), in the backend's own layout and fast (pipelined, or made by the database).
   */
  seedRows(store: string, node: string, host: string, count: number): Promise<void>;
  /** Rows of the dead node in the big clean-up test. @default 20 000 */
  readonly bigCleanRows?: number;
}

/**
 * The session manager on a shared store, two nodes in one process (two actor systems, two
 * backends): each sees the other's sessions and follows the other's cache invalidations; a
 * crashed backend actor is restarted without wiping this node's live sessions (`init` deletes
 * nothing), and a new start of the session manager cleans them with their hooks; 20k rows of a
 * dead node are cleaned batch by batch, a hook each, while routing goes on. Registers one
 * `describe`.
 */
export function twoNodesSuite<B extends SharedStoreBackend>(
  label: string,
  options: TwoNodesOptions<B>,
): void {
  describe(`SessionManager, two nodes on one store: ${label}`, () => {
    it('opens, routes and closes across two nodes sharing one store', async () => {
      const store = options.newStore();
      const nodes = await Promise.all(
        ['node1', 'node2'].map(async (node) => {
          const system = new ActorSystem({ node, logger: silentLogger });
          const backend = options.createBackend(store);
          const sm = await SessionManager.start({
            system,
            hosts: [HOST],
            backends: { [HOST]: backend },
            logger: silentLogger,
            remoteSend: () => false,
          });
          return { system, backend, sm };
        }),
      );
      const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const phone = await n1.system.spawn(recorder, undefined);
      const sid = n1.sm.makeSid(phone);
      await n1.sm.openSession(sid, 'alice', HOST, 'phone', 5);

      // node2 sees node1's session (and caches the answer).
      expect(await n2.sm.getUserResources('alice', HOST)).toEqual(['phone']);
      // Routing on node1 to the full JID reaches the connection (warm cache: synchronous).
      n1.sm.route(jid('alice', HOST, 'phone'), { type: 'hello' });
      expect(await n1.system.call(phone, 'inbox')).toEqual([{ type: 'hello' }]);

      // node1 closes; node2's cached answer is invalidated through the store's channel.
      await n1.sm.closeSession(sid, 'alice', HOST, 'phone');
      await n2.backend.whenSynced();
      let resources = await n2.sm.getUserResources('alice', HOST);
      while (resources.length > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        resources = await n2.sm.getUserResources('alice', HOST);
      }
      expect(resources).toEqual([]);
      expect(await n1.sm.connectedUsersNumber()).toBe(0);

      for (const n of nodes) await n.sm.stop();
      expect(n1.backend.status).toBe('stopped');
    });

    it('a crashed backend actor is restarted without wiping this node’s live sessions; a new start cleans the leftovers, hooks run', async () => {
      const store = options.newStore();
      const system = new ActorSystem({ node: 'node1', logger: silentLogger });
      const backend = options.createBackend(store);
      const sm = await SessionManager.start({
        system,
        hosts: [HOST],
        backends: { [HOST]: backend },
        logger: silentLogger,
      });
      const conns = await Promise.all(['phone', 'laptop'].map(() => system.spawn(recorder, undefined)));
      const sids = conns.map((c) => sm.makeSid(c));
      await sm.openSession(sids[0]!, 'alice', HOST, 'phone', 5);
      await sm.openSession(sids[1]!, 'bob', HOST, 'laptop', 1);

      const [before] = await backendActors(sm);
      system.exit(before!.ref, 'kill'); // no terminate: the supervisor restarts it and init runs again
      const [after] = await backendActors(sm);
      expect(after!.ref.equals(before!.ref)).toBe(false);
      expect(system.isAlive(after!.ref)).toBe(true);
      expect(backend.status).toBe('ready');

      // Both sessions are still stored, listed and routable.
      expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
      expect(await sm.dirtyGetSessionsList()).toHaveLength(2);
      await sm.route(jid('alice', HOST, 'phone'), { type: 'still-here' });
      await sm.route(jid('bob', HOST), { type: 'bare' });
      expect(await system.call(conns[0]!, 'inbox')).toEqual([{ type: 'still-here' }]);
      expect(await system.call(conns[1]!, 'inbox')).toEqual([{ type: 'bare' }]);
      // And the store keeps working: close one, open another.
      await sm.closeSession(sids[1]!, 'bob', HOST, 'laptop');
      expect(await sm.connectedUsers()).toEqual([`alice@${HOST}/phone`]);

      // A new start of the session manager is a new incarnation: this node's leftovers are cleaned,
      // each with its sm_remove_connection_hook (alice's connection ignores system-shutdown here).
      await sm.stop();
      const hooks = new Hooks();
      const removed: string[] = [];
      hooks.add('sm_remove_connection_hook', HOST, (_sid, j) => void removed.push(j.toString()), 50);
      const again = await SessionManager.start({
        system,
        hosts: [HOST],
        backends: { [HOST]: backend },
        hooks,
        logger: silentLogger,
      });
      expect(await again.connectedUsersNumber()).toBe(0);
      expect(removed).toEqual([`alice@${HOST}/phone`]);
      await again.stop();
    });

    // The count and the interleaving are pinned here, with no timing: a hook holds the clean-up
    // halfway until routing has delivered. The time of a 100k clean-up is a figure of the benches.
    it('20k rows of a dead node cleaned in batches with a hook each, while routing to live sessions goes on', async () => {
      const store = options.newStore();
      const N = options.bigCleanRows ?? 20_000;
      await options.seedRows(store, 'dead', HOST, N);
      const hooks = new Hooks();
      let removed = 0;
      let release!: () => void;
      const halfway = new Promise<void>((resolve) => {
        release = resolve;
      });
      hooks.add(
        'sm_remove_connection_hook',
        HOST,
        () => {
          removed++;
          return removed === N / 2 ? halfway : undefined;
        },
        50,
      );
      const system = new ActorSystem({ node: 'survivor', logger: silentLogger });
      const sm = await SessionManager.start({
        system,
        hosts: [HOST],
        hooks,
        backends: { [HOST]: options.createBackend(store) },
        logger: silentLogger,
      });
      const live = await system.spawn(recorder, undefined);
      await sm.openSession(sm.makeSid(live), 'bob', HOST, 'phone', 0);
      const cleaning = sm.cleanNode('dead');
      await eventually(
        'the clean-up to reach its halfway hook',
        () => removed,
        (n) => n === N / 2,
        30_000,
      );
      for (let i = 0; i < 5; i++) void sm.route(jid('bob', HOST, 'phone'), { type: 'during', i });
      await eventually(
        'five messages routed while the clean-up is held halfway',
        () => system.call(live, 'inbox') as Promise<unknown[]>,
        (inbox) => inbox.length === 5,
      );
      expect(removed).toBe(N / 2);
      release();
      expect(await cleaning).toBe(N);
      expect(removed).toBe(N);
      expect(await sm.connectedUsers()).toEqual([`bob@${HOST}/phone`]);
      await sm.stop();
    }, 60_000);
  });
}
