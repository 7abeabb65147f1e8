import { ActorRef, ActorSystem, silentLogger } from '@otp-chat/actor';
import xml from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionManager } from '../src/SessionManager.ts';

/**
 * Model-based test: random open / close / setPresence / route / kick sequences against a small
 * reference model of spec §3.2 row 5, §3.3 and §4 (replacement, max_user_sessions, kick). The
 * connections are refs on another node (no liveness checks), so every delivery is synchronous and
 * recorded by `remoteSend`.
 */

const HOST = 'example.com';
const MAX = 3;
type Cmd =
  | { op: 'open'; user: number; res: number }
  | { op: 'close'; pick: number }
  | { op: 'presence'; pick: number; prio: number | undefined }
  | { op: 'route'; user: number; res: number | undefined; type: 'chat' | 'headline' }
  | { op: 'kick'; user: number };

const USERS = ['a', 'b'];
const RESOURCES = ['x', 'y', 'z'];

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
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

interface ModelRow {
  readonly id: number; // connection id = creation order = sid order
  readonly user: string;
  readonly res: string;
  prio: number | undefined;
}

/** The reference model: a list of rows in creation order and the messages each command must send. */
class Model {
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

function sorted(a: string[]): string[] {
  return [...a].sort();
}

describe('SessionManager against a reference model (fast-check)', () => {
  it('zero divergences over 1,000 runs of 50 commands', async () => {
    const system = new ActorSystem({ node: 'sm-node', logger: silentLogger });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 50, maxLength: 50 }), async (cmds) => {
        const log: string[] = [];
        const sm = await SessionManager.start({
          system,
          hosts: [HOST],
          name: `sm_model_${n++}`,
          maxUserSessions: MAX,
          replacedConnectionTimeoutMs: 0,
          router: () => log.push('bounce'),
          remoteSend: (ref, message) => {
            const m = message as { type: string; smCopy?: boolean };
            log.push(`${ref.id}:${m.type}${m.smCopy ? ':copy' : ''}`);
            return true;
          },
        });
        const model = new Model();
        const sids = new Map<number, ReturnType<SessionManager['makeSid']>>();
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
              await sm.openSession(sid, USERS[c.user]!, HOST, RESOURCES[c.res]!);
            } else if (c.op === 'close' || c.op === 'presence') {
              if (model.rows.length === 0) continue;
              const row = model.rows[c.pick % model.rows.length]!;
              const sid = sids.get(row.id)!;
              if (c.op === 'close') {
                model.close(row.id);
                await sm.closeSession(sid, row.user, HOST, row.res);
              } else {
                row.prio = c.prio;
                const r =
                  c.prio === undefined
                    ? await sm.unsetPresence(sid, row.user, HOST, row.res, '')
                    : await sm.setPresence(sid, row.user, HOST, row.res, c.prio, xml('presence'));
                expect(r).toBe('ok');
              }
            } else if (c.op === 'route') {
              const user = USERS[c.user]!;
              const res = c.res === undefined ? undefined : RESOURCES[c.res]!;
              expected = model.route(user, res, c.type);
              const to = `${user}@${HOST}${res === undefined ? '' : `/${res}`}`;
              await sm.route(
                xml('message', { to, from: 'z@other.example/q', type: c.type }, xml('body', {}, 'b')),
              );
            } else {
              expected = model.kick(USERS[c.user]!);
              await sm.kickUser(USERS[c.user]!, HOST);
            }
            expect(sorted(log)).toEqual(sorted(expected));
          }
          // Final state: the same rows.
          const got = sorted((await sm.dirtyGetSessionsList()).map(([u, , r]) => `${u}/${r}`));
          expect(got).toEqual(sorted(model.rows.map((r) => `${r.user}/${r.res}`)));
        } finally {
          await sm.stop();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
