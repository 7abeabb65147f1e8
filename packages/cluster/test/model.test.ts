// A cluster of three nodes routes exactly as one node holding every session: the session
// manager's model-based test (src/testing/sessionManagerModel.ts of @otp-chat/session-manager:
// open / close / presence / route / kick on two hosts, replacement with its wait, max_user_sessions,
// spellings) with the connections spread over three nodes and each command acting on a random one,
// every delivery to another node's connection, every `replaced` and `kick`, and the DOWN the wait
// for a replaced session needs, crossing the real transport over Redis. One shared store (a memory
// backend shared by the three session managers of one process), so that only the transport is
// under test. The three systems share a simulated clock (the replacement wait runs on it); the
// clusters' heartbeats run on the real one.
import { ActorSystem, SimulatedClock, silentLogger, systemClock } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { canRunRedisTests, RedisServer } from '@otp-chat/redis-backend/testing';
import { MemoryBackend } from '@otp-chat/session-manager';
import { sessionManagerModel } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { Cluster } from '../src/index.ts';

/** Runs; `CLUSTER_MODEL_RUNS` to change (each command crosses Redis, so a run costs more than in memory). */
const RUNS = Number(process.env.CLUSTER_MODEL_RUNS ?? 200);

describe.skipIf(!canRunRedisTests('cluster model', 'server'))(
  'a cluster of 3 nodes against the one-node model',
  () => {
    let server: RedisServer;
    const clock = new SimulatedClock();
    const clusters: Cluster[] = [];

    beforeAll(async () => {
      server = await RedisServer.start();
      for (const node of ['n0@model', 'n1@model', 'n2@model']) {
        const system = new ActorSystem({ node, clock, logger: silentLogger });
        clusters.push(
          await Cluster.start({
            system,
            url: server.url,
            prefix: 'model',
            heartbeatIntervalMs: 200,
            nodeTimeoutMs: 2000,
            clock: systemClock,
          }),
        );
      }
      await eventually(
        'every node to see the two others',
        () => clusters.map((c) => c.nodes().length),
        (n) => n.every((k) => k === 2),
      );
    });
    afterAll(async () => {
      for (const c of clusters) await c.stop();
      await server?.stop();
    });

    sessionManagerModel('MemoryBackend, three nodes over Redis', {
      createBackend: () => new MemoryBackend(),
      numRuns: RUNS,
      commands: 60,
      timeoutMs: 30_000 + RUNS * 1000,
      nodes: () => ({ systems: clusters.map((c) => c.system), clock }),
    });
  },
);
