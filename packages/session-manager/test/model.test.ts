import { ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import { loopbackCluster } from '@otp-chat/actor/testing';
import { afterAll } from 'vitest';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import { sessionManagerModel } from '../src/testing/index.ts';

/** fast-check runs; `SM_MODEL_RUNS=5000` (say) for a long run. */
const RUNS = Number(process.env.SM_MODEL_RUNS ?? 500);
/** Runs on three nodes; `SM_NODES_MODEL_RUNS` to change. */
const NODES_RUNS = Number(process.env.SM_NODES_MODEL_RUNS ?? 250);

// The model-based test (src/testing/sessionManagerModel.ts: `ejabberd_sm:do_route/1`, `route_message/1`,
// `check_for_sessions_to_replace/4`, `check_max_sessions/2`) on
// the memory backend: runs of 1 to 60 commands on two hosts, a fresh store per run.
sessionManagerModel('MemoryBackend', {
  createBackend: () => new MemoryBackend(),
  numRuns: RUNS,
  commands: 60,
  timeoutMs: 20_000 + RUNS * 50,
});

// The same model on three nodes of one process joined by the loopback carrier, one memory store
// they share: three nodes route exactly as one node holding every session. @otp-chat/cluster runs
// it over Redis between nodes.
const clock = new SimulatedClock();
const systems = ['n0@model', 'n1@model', 'n2@model'].map(
  (node) => new ActorSystem({ node, clock, logger: silentLogger }),
);
const net = loopbackCluster(systems);
afterAll(() => net.close());
sessionManagerModel('MemoryBackend, three nodes (loopback carrier)', {
  createBackend: () => new MemoryBackend(),
  numRuns: NODES_RUNS,
  commands: 60,
  timeoutMs: 20_000 + NODES_RUNS * 100,
  nodes: () => ({ systems, clock }),
});
