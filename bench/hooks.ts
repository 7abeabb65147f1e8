// bench/hooks: the hook runner against a hand-written loop over the same handlers.
//   RATIO runFold            runFold over 5 synchronous handlers / a hand-written loop (≥ 0.5)
//   FIGURE run-empty <n> per_s   run of a hook with no handlers (≥ 20 M/s)
import { PerformanceObserver } from 'node:perf_hooks';
import { Hooks } from '@otp-chat/event-bus';
import { figure, header, type Measurement, measure, ratio, table } from './lib.ts';

interface BenchHooks {
  fold5: { acc: number; args: [x: number] };
  ping: { args: [x: number] };
  traced: { acc: number; args: [x: number] };
}

const f1 = (acc: number, x: number) => acc + x;
const f2 = (acc: number, x: number) => acc ^ x;
const f3 = (acc: number, x: number) => (acc * 3 + (x & 1)) | 0;
const f4 = (acc: number, x: number) => acc - (x & 7);
const f5 = (acc: number, _x: number) => (acc & 0xffff) + 1;
const fns = [f1, f2, f3, f4, f5];

const hooks = new Hooks<BenchHooks>();
fns.forEach((f, i) => {
  hooks.add('fold5', 'example.com', f, (i + 1) * 10);
});
const asyncHooks = new Hooks<BenchHooks>();
fns.forEach((f, i) => {
  asyncHooks.add(
    'fold5',
    'example.com',
    i === 2 ? async (acc: number, x: number) => f(acc, x) : f,
    (i + 1) * 10,
  );
});

/** The baseline: the loop a hand-written dispatcher would run over the same 5 functions. */
function handLoop(acc: number, x: number): number {
  for (let i = 0; i < fns.length; i++) {
    const r: unknown = fns[i]!(acc, x);
    if (r === 'stop') return acc;
    acc = r as number;
  }
  return acc;
}

header('hooks: @otp-chat/event-bus Hooks.run / runFold');
let sink = 0;
const OPS = 2_000_000;

const measureBaseline = () =>
  measure('hand-written loop, 5 fns', { ops: OPS }, (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc = handLoop(acc, i);
    sink ^= acc;
  });
const measureFold = () =>
  measure('runFold, 5 sync handlers', { ops: OPS }, (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc = hooks.runFold('fold5', 'example.com', acc, i) as number;
    sink ^= acc;
  });
// The machine is shared: measure the pair several times, interleaved, and keep the median pair
// (by ratio), so that a burst of load on one side does not decide the RATIO.
const pairs: { baseline: Measurement; fold: Measurement; ratio: number }[] = [];
for (let k = 0; k < 3; k++) {
  const baseline = await measureBaseline();
  const fold = await measureFold();
  pairs.push({ baseline, fold, ratio: baseline.nsPerOp / fold.nsPerOp });
}
pairs.sort((a, b) => a.ratio - b.ratio);
const { baseline, fold, ratio: foldRatio } = pairs[1]!;
const empty = await measure('run, no handlers', { ops: OPS * 5 }, (n) => {
  for (let i = 0; i < n; i++) hooks.run('ping', 'example.com', i);
});
const emptyFold = await measure('runFold, no handlers', { ops: OPS * 5 }, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = hooks.runFold('traced', 'example.com', acc, i) as number;
  sink ^= acc;
});
const asyncFold = await measure('runFold, 5 handlers, 1 async', { ops: OPS / 20 }, async (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = await asyncHooks.runFold('fold5', 'example.com', acc, i);
  sink ^= acc;
});

const tracedHooks = new Hooks<BenchHooks>();
fns.forEach((f, i) => {
  tracedHooks.add('traced', 'example.com', f, (i + 1) * 10);
});
tracedHooks.subscribe('traced', 'example.com', (count: number) => count + 1, 0);
const traced = await measure('runFold, 5 handlers, 1 subscriber', { ops: OPS / 10 }, (n) => {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = tracedHooks.runFold('traced', 'example.com', acc, i) as number;
  sink ^= acc;
});

table([baseline, fold, empty, emptyFold, asyncFold, traced]);

// Allocation check: a synchronous runFold must allocate nothing, so a few million of them must not
// trigger a single scavenge (the young generation is a few MB; 16 bytes per run would fill it).
const gcKinds: string[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcKinds.push(String((e as { detail?: { kind?: number } }).detail?.kind));
});
observer.observe({ entryTypes: ['gc'] });
const ALLOC_OPS = 5_000_000;
// Handlers whose values stay small integers (Smis), so that the handlers themselves allocate no
// heap numbers; the loops are warmed up (optimised) before the GC count starts.
const smiHooks = new Hooks<BenchHooks>();
for (const seq of [10, 20, 30, 40, 50])
  smiHooks.add('fold5', 'example.com', (acc, x) => (acc + x) & 0xffff, seq);
smiHooks.add('ping', 'example.com', () => {}, 10);
function allocationLoop(ops: number): number {
  let acc = 0;
  for (let i = 0; i < ops; i++) acc = smiHooks.runFold('fold5', 'example.com', acc, i & 0xff) as number;
  for (let i = 0; i < ops; i++) smiHooks.run('ping', 'example.com', i & 0xff);
  for (let i = 0; i < ops; i++) smiHooks.run('ping', 'other.example', i & 0xff);
  return acc;
}
sink ^= allocationLoop(200_000);
await new Promise((resolve) => setTimeout(resolve, 50));
gcKinds.length = 0;
sink ^= allocationLoop(ALLOC_OPS);
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();
process.stdout.write(
  `# allocation check: ${gcKinds.length} GC(s) during ${ALLOC_OPS.toLocaleString('en-US')} each of sync ` +
    `runFold (5 handlers), run (1 handler) and run (no handlers) (0 expected)\n\n`,
);
if (sink === 0.5) process.stdout.write('unreachable\n');
ratio('runFold', foldRatio);
figure('run-empty', empty.opsPerSec, 'per_s');
