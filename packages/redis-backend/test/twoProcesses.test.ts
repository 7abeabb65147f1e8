import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { jid } from '@otp-chat/jid';
import { SessionManager } from '@otp-chat/session-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../src/RedisBackend.ts';
import { canRunRedisTests, startTestRedis, type TestRedis, uniquePrefix } from '../src/testing/index.ts';
import type { ChildEvent, ChildRequest } from './fixtures/smNode.ts';

const HOST = 'example.com';
const FIXTURE = fileURLToPath(new URL('./fixtures/smNode.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A connection actor that records what it receives. */
const recorder: GenServer<unknown[], void, 'inbox', unknown[]> = {
  init: () => ({ ok: [] }),
  handleInfo: (m, inbox) => ({ noreply: true, state: [...inbox, m] }),
  handleCall: (_r, _f, inbox) => ({ reply: inbox, state: inbox }),
};

type Omit2<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The forked node: requests over IPC, answered by id; remote deliveries forwarded to `onRemote`. */
class ChildNode {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly stderr: string[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  onRemote: (event: Extract<ChildEvent, { type: 'remote' }>) => void = () => {};

  constructor(readonly proc: ChildProcess) {
    proc.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      proc.on('message', (m: ChildEvent | { id: number; ok?: unknown; error?: string }) => {
        if ('type' in m) {
          if (m.type === 'ready') resolve();
          else this.onRemote(m);
          return;
        }
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (w === undefined) return;
        if (m.error !== undefined) w.reject(new Error(m.error));
        else w.resolve(m.ok);
      });
      void this.exited.then((code) => {
        const error = new Error(`child exited (${code}): ${this.stderr.join('')}`);
        reject(error);
        for (const w of this.waiting.values()) w.reject(error);
        this.waiting.clear();
      });
    });
  }

  request<T>(req: Omit2<ChildRequest>): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }
}

// Two session managers in two Node processes on one Redis (as `ejabberd_sm_redis`: the layout and the
// pub/sub invalidation are what nodes share; every node's cache is invalidated by the others' writes).
describe.skipIf(!canRunRedisTests('two session managers in two processes on one Redis'))(
  'two session managers in two processes on one Redis',
  () => {
    let redis: TestRedis;
    let child: ChildNode | undefined;
    let system: ActorSystem;
    let backend: RedisBackend;
    let sm: SessionManager;
    const prefix = uniquePrefix('two-proc');
    /** The parent's connection actors, for the terms the child routes to them. */
    const parentConns = new Map<string, ActorRef>();

    beforeAll(async () => {
      redis = await startTestRedis();
      system = new ActorSystem({ node: 'parent', logger: silentLogger });
      backend = new RedisBackend({ url: redis.url, prefix });
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
      child = new ChildNode(
        fork(FIXTURE, [redis.url, prefix, 'child', HOST], {
          cwd: REPO_ROOT,
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        }),
      );
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
      const c = child;
      if (c !== undefined && c.proc.exitCode === null && c.proc.signalCode === null) {
        // Ask nicely, then make sure: the child must never outlive the test.
        await Promise.race([c.request({ op: 'exit' }).catch(() => {}), c.exited]);
        if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
        await c.exited;
      }
      await sm?.stop();
      await redis?.stop();
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

      // Each sees the other's sessions.
      const all = [`alice@${HOST}/phone`, `alice@${HOST}/tablet`, `bob@${HOST}/laptop`];
      expect(await sm.getUserResources('bob', HOST)).toEqual(['laptop']);
      expect([...(await sm.getUserResources('alice', HOST))].sort()).toEqual(['phone', 'tablet']);
      expect((await sm.dirtyGetSessionsList()).map(([u, s, r]) => `${u}@${s}/${r}`).sort()).toEqual(all);
      expect((await c.request<string[]>({ op: 'resources', user: 'alice' })).sort()).toEqual([
        'phone',
        'tablet',
      ]);
      expect(await c.request({ op: 'sessions' })).toEqual(all);

      // Routing across the process boundary, both ways.
      await sm.route(jid('bob', HOST, 'laptop'), { type: 'from-parent' });
      await c.request({ op: 'route', to: `alice@${HOST}/phone`, message: { type: 'from-child' } });
      const inbox = await eventually(
        "the child's bob/laptop to get the parent's message",
        () => c.request<unknown[]>({ op: 'inbox', user: 'bob', resource: 'laptop' }),
        (m) => m.length > 0,
      );
      expect(inbox).toEqual([{ type: 'from-parent' }]);
      const mine = await eventually(
        "the parent's alice/phone to get the child's message",
        async () => (await system.call(phone, 'inbox')) as unknown[],
        (m) => m.length > 0,
      );
      expect(mine).toEqual([{ type: 'from-child' }]);

      // The parent's cache holds alice (a warm read answers synchronously) ...
      const warm = backend.getSessions('alice', HOST);
      expect(Array.isArray(warm)).toBe(true);
      expect((warm as readonly unknown[]).length).toBe(2);
      // ... until the child closes alice/tablet: its PUBLISH invalidates the parent's entry.
      await c.request({ op: 'close', user: 'alice', resource: 'tablet' });
      await eventually(
        "the child's PUBLISH to invalidate the parent's cache of alice",
        () => Array.isArray(backend.getSessions('alice', HOST)),
        (cached) => !cached,
      );
      expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);
      expect(await c.request({ op: 'resources', user: 'alice' })).toEqual(['phone']);

      // And the other way: the parent closes alice/phone; the child's (warm) answer follows.
      await sm.closeSession(phoneSid, 'alice', HOST, 'phone');
      const theirs = await eventually(
        'the child to see alice/phone closed by the parent',
        () => c.request<string[]>({ op: 'resources', user: 'alice' }),
        (r) => r.length === 0,
      );
      expect(theirs).toEqual([]);
      expect(await c.request({ op: 'sessions' })).toEqual([`bob@${HOST}/laptop`]);
      expect(await sm.connectedUsers()).toEqual([`bob@${HOST}/laptop`]);
    });

    it('the child exits when asked; its rows stay until its node is cleaned (as ejabberd_sm_redis)', async () => {
      const c = child!;
      await c.request({ op: 'exit' });
      expect(await c.exited).toBe(0);
      // Its rows stay behind (no node-down clean-up in Redis, as ejabberd_sm_redis) until its node cleans them:
      // here the parent does it for the dead node, as a cluster's node-down handler would.
      expect(await sm.getUserResources('bob', HOST)).toEqual(['laptop']);
      expect(await sm.cleanNode('child')).toBe(1);
      expect(await sm.connectedUsersNumber()).toBe(0);
    });
  },
);
