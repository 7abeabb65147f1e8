// A cluster of three nodes routes exactly as one node holding every session: the session
// manager's reference model (open / close / presence / route / kick, replacement and
// max_user_sessions 3) with each command run on a random node, the connections spread over the
// three, every delivery crossing the real transport over Redis. One shared store (a memory backend
// shared by the three session managers of one process), so that only the transport is under test.
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { canRunRedisTests, RedisServer } from '@otp-chat/redis-backend/testing';
import { MemoryBackend, SessionManager, type Sid, xml } from '@otp-chat/session-manager';
import {
  MODEL_HOST,
  MODEL_LIMITS,
  type ModelCommand,
  modelCommand,
  SessionManagerReferenceModel,
} from '@otp-chat/session-manager/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../src/index.ts';

const RUNS = Number(process.env.CLUSTER_MODEL_RUNS ?? 100);
const COMMANDS = 40;
const { users: USERS, resources: RESOURCES } = MODEL_LIMITS;

const sync: GenServer<null, void, 'sync', 'ok', never, never> = {
  init: () => ({ ok: null }),
  handleCall: (_r, _f, s) => ({ reply: 'ok', state: s }),
};

/** A connection that writes what it receives into the shared log, as the model spells it. */
function connection(id: number, log: string[]): GenServer<null, void, never, never, never, unknown> {
  return {
    init: () => ({ ok: null }),
    handleInfo: (message, s) => {
      const m = message as { type: string; smCopy?: boolean };
      log.push(`${id}:${m.type}${m.smCopy ? ':copy' : ''}`);
      return { noreply: true, state: s };
    },
  };
}

function sorted(xs: readonly string[]): string[] {
  return [...xs].sort();
}

describe.runIf(canRunRedisTests('cluster model', 'server'))(
  'a cluster of 3 nodes against the one-node model',
  () => {
    let server: RedisServer;
    const clusters: Cluster[] = [];
    const syncs: ActorRef[] = [];

    beforeAll(async () => {
      server = await RedisServer.start();
      for (const node of ['n0@model', 'n1@model', 'n2@model']) {
        const system = new ActorSystem({ node, logger: silentLogger });
        clusters.push(
          await Cluster.start({
            system,
            url: server.url,
            prefix: 'model',
            heartbeatIntervalMs: 200,
            nodeTimeoutMs: 2000,
          }),
        );
        syncs.push(await system.spawn(sync, undefined));
      }
      while (!clusters.every((c) => c.nodes().length === 2)) await new Promise((r) => setTimeout(r, 10));
    });
    afterAll(async () => {
      for (const c of clusters) await c.stop();
      await server?.stop();
    });

    it(`zero divergences over ${RUNS} runs of ${COMMANDS} commands, each on a random node`, async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(modelCommand, fc.nat(2)), { minLength: COMMANDS, maxLength: COMMANDS }),
          async (steps) => {
            await runModel(run++, steps);
          },
        ),
        { numRuns: RUNS },
      );
    }, 120_000);

    async function runModel(
      run: number,
      steps: ReadonlyArray<readonly [ModelCommand, number]>,
    ): Promise<void> {
      const log: string[] = [];
      const store = new MemoryBackend();
      const sms: SessionManager[] = [];
      // Sids order by wall-clock seconds, then a per-node counter: within one second, sessions
      // opened on different nodes have no creation order (as in ejabberd). A shared clock that
      // moves a second per sid makes "newest" the last opened, as the one-node model has it.
      let wall = 0;
      const wallClock = () => (wall += 1000);
      for (const c of clusters) {
        sms.push(
          await SessionManager.start({
            system: c.system,
            hosts: [MODEL_HOST],
            backends: { [MODEL_HOST]: store },
            name: `sm_model_${run}`,
            maxUserSessions: MODEL_LIMITS.maxUserSessions,
            replacedConnectionTimeoutMs: 0,
            logger: silentLogger,
            router: () => log.push('bounce'),
            wallClock,
          }),
        );
      }
      const model = new SessionManagerReferenceModel();
      const conns = new Map<number, { ref: ActorRef; sid: Sid; node: number }>();
      let next = 1;
      try {
        for (const [c, at] of steps) {
          log.length = 0;
          let expected: string[] = [];
          // The node that acts: a connection's own node for its open, close and presence; any node
          // for routing and kicks.
          let actor = at;
          if (c.op === 'open') {
            const id = next++;
            const ref = await clusters[at]!.system.spawn(connection(id, log), undefined);
            const sid = sms[at]!.makeSid(ref);
            conns.set(id, { ref, sid, node: at });
            expected = model.open(id, USERS[c.user]!, RESOURCES[c.res]!);
            await sms[at]!.openSession(sid, USERS[c.user]!, MODEL_HOST, RESOURCES[c.res]!);
          } else if (c.op === 'close' || c.op === 'presence') {
            if (model.rows.length === 0) continue;
            const row = model.rows[c.pick % model.rows.length]!;
            const conn = conns.get(row.id)!;
            actor = conn.node;
            const sm = sms[actor]!;
            if (c.op === 'close') {
              model.close(row.id);
              await sm.closeSession(conn.sid, row.user, MODEL_HOST, row.res);
            } else {
              row.prio = c.prio;
              const r =
                c.prio === undefined
                  ? await sm.unsetPresence(conn.sid, row.user, MODEL_HOST, row.res, '')
                  : await sm.setPresence(conn.sid, row.user, MODEL_HOST, row.res, c.prio, xml('presence'));
              expect(r).toBe('ok');
            }
          } else if (c.op === 'route') {
            const user = USERS[c.user]!;
            const res = c.res === undefined ? undefined : RESOURCES[c.res]!;
            expected = model.route(user, res, c.type);
            const to = `${user}@${MODEL_HOST}${res === undefined ? '' : `/${res}`}`;
            await sms[at]!.route(
              xml('message', { to, from: 'z@other.example/q', type: c.type }, xml('body', {}, 'b')),
            );
          } else {
            expected = model.kick(USERS[c.user]!);
            await sms[at]!.kickUser(USERS[c.user]!, MODEL_HOST);
          }
          // Everything the acting node sent is in once a call from it to every node came back
          // (signals keep their order per pair of nodes).
          const deadline = Date.now() + 5000;
          while (log.length < expected.length && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 1));
          for (const target of syncs) await clusters[actor]!.system.call(target, 'sync');
          expect(sorted(log)).toEqual(sorted(expected));
        }
        const got = sorted((await sms[0]!.dirtyGetSessionsList()).map(([u, , r]) => `${u}/${r}`));
        expect(got).toEqual(sorted(model.rows.map((r) => `${r.user}/${r.res}`)));
      } finally {
        for (const sm of sms) await sm.stop();
        for (const { ref, node } of conns.values()) await clusters[node]!.system.stop(ref).catch(() => {});
      }
    }
  },
);
