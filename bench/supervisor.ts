// bench/supervisor: restart latency of a crashed child under a one_for_one supervisor, and the
// rate of simple_one_for_one starts (100k children), each against a hand-rolled baseline on the
// same ActorSystem in the same run. Run: pnpm bench:supervisor
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { dynamicWorker, Supervisor, type SupervisorEvent, worker } from '@otp-chat/supervisor';
import { figure, header, type Measurement, ratio, table } from './lib.ts';

header('bench/supervisor');

const idle: GenServer<number, number> = { init: (n) => ({ ok: n }) };
const now = () => process.hrtime.bigint();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---- restart latency -----------------------------------------------------------------------------

/** Kill the child, measure until the supervisor reports the new one (child_restarted). */
async function supervisedRestart(samples: number): Promise<number[]> {
  const system = new ActorSystem({ logger: silentLogger });
  let onRestart: ((e: SupervisorEvent) => void) | undefined;
  const started = await Supervisor.start(system, {
    intensity: 1_000_000_000, // measure restarts, not escalation
    period: 1,
    children: [worker('w', idle, 0)],
    onEvent: (e) => {
      if (e.type === 'child_restarted') onRestart?.(e);
    },
  });
  if (typeof started !== 'object' || !('ok' in started)) throw new Error('supervisor did not start');
  const sup = started.ok;
  let child = (await Supervisor.whichChildren(system, sup))[0]!.ref as ActorRef;
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const restarted = new Promise<ActorRef>((resolve) => {
      onRestart = (e) => resolve((e as Extract<SupervisorEvent, { type: 'child_restarted' }>).ref);
    });
    const t0 = now();
    system.exit(child, { exit: 'crash' });
    child = await restarted;
    out.push(Number(now() - t0) / 1000);
  }
  await system.stop(sup, 'shutdown');
  return out;
}

/** Baseline: what a restart costs by hand (kill, wait for the exit, spawn again), no supervisor. */
async function bareRestart(samples: number): Promise<number[]> {
  const system = new ActorSystem({ logger: silentLogger });
  let child = await system.spawn(idle, 0);
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    const exited = system.whenExit(child);
    system.exit(child, { exit: 'crash' });
    await exited;
    child = await system.spawn(idle, 0);
    out.push(Number(now() - t0) / 1000);
  }
  return out;
}

// ---- simple_one_for_one starts -------------------------------------------------------------------

const CHILDREN = 100_000;

/** Seconds to start `CHILDREN` through startChild, one awaited call after another. */
async function sofoStart(pipelined: boolean): Promise<{ seconds: number; stopSeconds: number }> {
  const system = new ActorSystem({ logger: silentLogger });
  const started = await Supervisor.start(system, {
    strategy: 'simple_one_for_one',
    children: [dynamicWorker('conn', idle, (n) => n as number)],
  });
  if (typeof started !== 'object' || !('ok' in started)) throw new Error('supervisor did not start');
  const sup = started.ok;
  const t0 = now();
  if (pipelined) {
    const calls: Promise<unknown>[] = new Array(CHILDREN);
    for (let i = 0; i < CHILDREN; i++) calls[i] = Supervisor.startChild(system, sup, i);
    await Promise.all(calls);
  } else {
    for (let i = 0; i < CHILDREN; i++) await Supervisor.startChild(system, sup, i);
  }
  const seconds = Number(now() - t0) / 1e9;
  const active = (await Supervisor.countChildren(system, sup)).active;
  if (active !== CHILDREN) throw new Error(`expected ${CHILDREN} children, got ${active}`);
  const t1 = now();
  await system.stop(sup, 'shutdown');
  const stopSeconds = Number(now() - t1) / 1e9;
  if (system.count() !== 0) throw new Error('children left after stop');
  return { seconds, stopSeconds };
}

/** Baseline: `CHILDREN` bare `system.start` calls (no supervisor, no link, no bookkeeping). */
async function bareStart(): Promise<number> {
  const system = new ActorSystem({ logger: silentLogger });
  const t0 = now();
  for (let i = 0; i < CHILDREN; i++) await system.start(idle, i);
  return Number(now() - t0) / 1e9;
}

// ---- run -----------------------------------------------------------------------------------------

const SAMPLES = 5000;
await supervisedRestart(500); // warm-up
await bareRestart(500);
const supLatency = median(await supervisedRestart(SAMPLES));
const bareLatency = median(await bareRestart(SAMPLES));

await sofoStart(false); // warm-up
const rounds = 3;
const seq: number[] = [];
const pipe: number[] = [];
const stops: number[] = [];
const bare: number[] = [];
for (let r = 0; r < rounds; r++) {
  const s = await sofoStart(false);
  seq.push(s.seconds);
  stops.push(s.stopSeconds);
  pipe.push((await sofoStart(true)).seconds);
  bare.push(await bareStart());
}
const perSec = (seconds: number) => CHILDREN / seconds;
const row = (name: string, opsPerSec: number): Measurement => ({ name, opsPerSec, nsPerOp: 1e9 / opsPerSec });

table([
  row('restart of a crashed child (one_for_one)', 1e6 / supLatency),
  row('baseline: kill + whenExit + spawn by hand', 1e6 / bareLatency),
  row(`simple_one_for_one startChild x${CHILDREN / 1000}k (awaited)`, perSec(median(seq))),
  row(`simple_one_for_one startChild x${CHILDREN / 1000}k (pipelined)`, perSec(median(pipe))),
  row(`baseline: bare system.start x${CHILDREN / 1000}k`, perSec(median(bare))),
  row(`simple_one_for_one stop of ${CHILDREN / 1000}k children (parallel)`, perSec(median(stops))),
]);
process.stdout.write(
  `restart latency median: supervised ${supLatency.toFixed(1)} µs, by hand ${bareLatency.toFixed(1)} µs (${SAMPLES} samples)\n\n`,
);

ratio('supervisor_restart_vs_hand_restart', bareLatency / supLatency);
ratio('supervisor_sofo_start_vs_bare_start', median(bare) / median(seq));
figure('supervisor_restart_latency_median', supLatency, 'us');
figure('supervisor_restart_latency_median_ns', supLatency * 1000, 'ns');
figure('supervisor_sofo_start_100k', perSec(median(seq)), 'children/s');
figure('supervisor_sofo_start_100k_pipelined', perSec(median(pipe)), 'children/s');
figure('supervisor_sofo_stop_100k', perSec(median(stops)), 'children/s');
