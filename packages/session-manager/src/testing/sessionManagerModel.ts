import { ActorRef, ActorSystem, type MaybePromise, silentLogger } from '@otp-chat/actor';
import xml from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../Backend.ts';
import { SessionManager } from '../SessionManager.ts';
import type { Sid } from '../Sid.ts';

/** The virtual host the model test serves; a backend under test must accept it. */
export const MODEL_HOST = 'example.com';
/** `maxUserSessions` of the model, its users and resources (commands index into them). */
export const MODEL_LIMITS = Object.freeze({
  maxUserSessions: 3,
  users: ['a', 'b'],
  resources: ['x', 'y', 'z'],
});
const MAX = MODEL_LIMITS.maxUserSessions;
const USERS = MODEL_LIMITS.users;
const RESOURCES = MODEL_LIMITS.resources;

/** One step of a model run. */
export type ModelCommand =
  | { readonly op: 'open'; readonly user: number; readonly res: number }
  | { readonly op: 'close'; readonly pick: number }
  | { readonly op: 'presence'; readonly pick: number; readonly prio: number | undefined }
  | {
      readonly op: 'route';
      readonly user: number;
      readonly res: number | undefined;
      readonly type: 'chat' | 'headline';
    }
  | { readonly op: 'kick'; readonly user: number };

/** A random model command (fast-check). */
export const modelCommand: fc.Arbitrary<ModelCommand> = fc.oneof(
  fc.record({ op: fc.constant('open' as const), user: fc.nat(1), res: fc.nat(2) }),
  fc.record({ op: fc.constant('close' as const), pick: fc.nat(20) }),
  fc.record({
    op: fc.constant('presence' as const),
    pick: fc.nat(20),
    prio: fc.option(fc.constantFrom(-1, 0, 1, 5), { nil: undefined }),
  }),
  fc.record({
    op: fc.constant('route' as const),
    user: fc.nat(1),
    res: fc.option(fc.nat(2), { nil: undefined }),
    type: fc.constantFrom('chat' as const, 'headline' as const),
  }),
  fc.record({ op: fc.constant('kick' as const), user: fc.nat(1) }),
);

/** One row of the reference model. */
export interface ModelRow {
  readonly id: number; // connection id = creation order = sid order
  readonly user: string;
  readonly res: string;
  prio: number | undefined;
}

/**
 * The reference model: a list of rows in creation order and the messages each command must send,
 * as `<connection id>:<type>[:copy]` (connection ids are their creation order) and `bounce`.
 */
export class SessionManagerReferenceModel {
  rows: ModelRow[] = [];

  open(id: number, user: string, res: string): string[] {
    this.rows.push({ id, user, res, prio: undefined });
    const out: string[] = [];
    for (const r of this.rows)
      if (r.user === user && r.res === res && r.id !== id) out.push(`${r.id}:replaced`);
    const mine = this.rows.filter((r) => r.user === user);
    if (mine.length > MAX) out.push(`${mine[0]!.id}:replaced`);
    return out;
  }

  close(id: number): void {
    this.rows = this.rows.filter((r) => r.id !== id);
  }

  newestPerResource(user: string): ModelRow[] {
    const byRes = new Map<string, ModelRow>();
    for (const r of this.rows) if (r.user === user) byRes.set(r.res, r); // later = newer
    return [...byRes.values()];
  }

  route(user: string, res: string | undefined, type: 'chat' | 'headline'): string[] {
    if (res !== undefined) {
      const own = this.rows.filter((r) => r.user === user && r.res === res);
      if (own.length > 0) return [`${own[own.length - 1]!.id}:route`];
      if (type === 'headline') return [];
    }
    const present = this.newestPerResource(user).filter((r) => r.prio !== undefined);
    const max = Math.max(...present.map((r) => r.prio!));
    // Offline path: ejabberd_sm's offline_message_hook handler bounces chat, drops headline.
    if (present.length === 0 || max < 0) return type === 'headline' ? [] : ['bounce'];
    const top = present
      .filter((r) => r.prio === max)
      .map((r) => r.res)
      .sort();
    const primary = top[top.length - 1];
    return present
      .filter((r) => r.prio === max || (type === 'headline' && r.prio! >= 0))
      .map((r) => `${r.id}:route${r.prio === max && r.res !== primary ? ':copy' : ''}`);
  }

  kick(user: string): string[] {
    return this.newestPerResource(user).map((r) => `${r.id}:kick`);
  }
}

function sorted(a: readonly string[]): string[] {
  return [...a].sort();
}

/** How {@link sessionManagerModel} gets a fresh backend for each run and disposes of it. */
export interface SessionManagerModelOptions<B extends Backend = Backend> {
  /**
   * A new backend, not yet initialised, over an empty store serving {@link MODEL_HOST} (for a
   * shared store, e.g. Redis: a fresh key prefix per run). The session manager of the run inits
   * and stops it.
   */
  createBackend(): MaybePromise<B>;
  /** Called after each run, once the session manager (and so the backend) has stopped. */
  destroy?(backend: B): MaybePromise<void>;
  /** fast-check runs. @default 1000 */
  readonly numRuns?: number;
  /** Commands per run. @default 50 */
  readonly commands?: number;
  /** The vitest timeout of the whole property. @default vitest's configured timeout */
  readonly timeoutMs?: number;
}

/**
 * The session manager's model-based test, run on any backend: random open / close / setPresence /
 * route / kick sequences checked after every command against a small reference model of
 * `ejabberd_sm:do_route/1` to a full JID, `route_message/1` and replacement (`max_user_sessions` 3, kick), and the final rows against the
 * model's. The connections are refs on another node (no liveness checks), so every delivery goes
 * through `remoteSend` and is recorded synchronously. Registers one vitest `describe` with one `it`.
 *
 * ```ts
 * import { sessionManagerModel } from '@otp-chat/session-manager/testing';
 * sessionManagerModel('RedisBackend', {
 *   createBackend: () => new RedisBackend({ url, prefix: uniquePrefix('model') }),
 *   destroy: (b) => deleteKeysWithPrefix(url, b.keys.prefix),
 *   numRuns: 100,
 * });
 * ```
 */
export function sessionManagerModel<B extends Backend>(
  label: string,
  options: SessionManagerModelOptions<B>,
): void {
  const numRuns = options.numRuns ?? 1000;
  const length = options.commands ?? 50;
  describe(`SessionManager on ${label} against a reference model (fast-check)`, () => {
    it(
      `zero divergences over ${numRuns.toLocaleString('en-US')} runs of ${length} commands`,
      async () => {
        const system = new ActorSystem({ node: 'sm-node', logger: silentLogger });
        let n = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(modelCommand, { minLength: length, maxLength: length }), async (cmds) => {
            const backend = await options.createBackend();
            try {
              await runModel(system, backend, `sm_model_${n++}`, cmds);
            } finally {
              await options.destroy?.(backend);
            }
          }),
          { numRuns },
        );
      },
      options.timeoutMs,
    );
  });
}

async function runModel(
  system: ActorSystem,
  backend: Backend,
  name: string,
  cmds: readonly ModelCommand[],
): Promise<void> {
  const log: string[] = [];
  const sm = await SessionManager.start({
    system,
    hosts: [MODEL_HOST],
    backends: { [MODEL_HOST]: backend },
    name,
    maxUserSessions: MAX,
    replacedConnectionTimeoutMs: 0,
    logger: silentLogger,
    router: () => log.push('bounce'),
    remoteSend: (ref, message) => {
      const m = message as { type: string; smCopy?: boolean };
      log.push(`${ref.id}:${m.type}${m.smCopy ? ':copy' : ''}`);
      return true;
    },
  });
  const model = new SessionManagerReferenceModel();
  const sids = new Map<number, Sid>();
  let next = 1;
  try {
    for (const c of cmds) {
      log.length = 0;
      let expected: string[] = [];
      if (c.op === 'open') {
        const id = next++;
        const sid = sm.makeSid(new ActorRef('conn-node', id));
        sids.set(id, sid);
        expected = model.open(id, USERS[c.user]!, RESOURCES[c.res]!);
        await sm.openSession(sid, USERS[c.user]!, MODEL_HOST, RESOURCES[c.res]!);
      } else if (c.op === 'close' || c.op === 'presence') {
        if (model.rows.length === 0) continue;
        const row = model.rows[c.pick % model.rows.length]!;
        const sid = sids.get(row.id)!;
        if (c.op === 'close') {
          model.close(row.id);
          await sm.closeSession(sid, row.user, MODEL_HOST, row.res);
        } else {
          row.prio = c.prio;
          const r =
            c.prio === undefined
              ? await sm.unsetPresence(sid, row.user, MODEL_HOST, row.res, '')
              : await sm.setPresence(sid, row.user, MODEL_HOST, row.res, c.prio, xml('presence'));
          expect(r).toBe('ok');
        }
      } else if (c.op === 'route') {
        const user = USERS[c.user]!;
        const res = c.res === undefined ? undefined : RESOURCES[c.res]!;
        expected = model.route(user, res, c.type);
        const to = `${user}@${MODEL_HOST}${res === undefined ? '' : `/${res}`}`;
        await sm.route(xml('message', { to, from: 'z@other.example/q', type: c.type }, xml('body', {}, 'b')));
      } else {
        expected = model.kick(USERS[c.user]!);
        await sm.kickUser(USERS[c.user]!, MODEL_HOST);
      }
      expect(sorted(log)).toEqual(sorted(expected));
    }
    // Final state: the same rows.
    const got = sorted((await sm.dirtyGetSessionsList()).map(([u, , r]) => `${u}/${r}`));
    expect(got).toEqual(sorted(model.rows.map((r) => `${r.user}/${r.res}`)));
  } finally {
    await sm.stop();
  }
}
