// bench/actor: the actor runtime against a bare promise round trip, a bare batched mailbox and
// xstate, in one run. Run: pnpm bench:actor (add --expose-gc through NODE_OPTIONS for the heap figure).
import { ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { Queue } from 'mnemonist';
import { assign, createActor, setup } from 'xstate';
import { figure, header, heapUsed, interleaved, measure, ratio, table } from './lib.ts';

header('bench/actor');
const RESOLVED = Promise.resolve();

// ---- baselines ---------------------------------------------------------------------------------

/** The least a call can do: queue the request, one microtask to the server, resolve the caller. */
function bareServer(handler: (req: number) => number) {
  const inbox: Array<{ req: number; resolve: (v: number) => void }> = [];
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    for (let i = 0; i < inbox.length; i++) {
      const m = inbox[i]!;
      m.resolve(handler(m.req));
    }
    inbox.length = 0;
  };
  return (req: number) =>
    new Promise<number>((resolve) => {
      inbox.push({ req, resolve });
      if (!scheduled) {
        scheduled = true;
        RESOLVED.then(drain);
      }
    });
}

/** A batched mailbox: an array (or a mnemonist Queue) drained in one microtask. */
function bareMailbox(kind: 'array' | 'queue') {
  let state = 0;
  const arr: number[] = [];
  const queue = new Queue<number>();
  let scheduled = false;
  let done: (() => void) | undefined;
  const drain = () => {
    scheduled = false;
    if (kind === 'array') {
      for (let i = 0; i < arr.length; i++) state += arr[i]!;
      arr.length = 0;
    } else {
      let m = queue.dequeue();
      while (m !== undefined) {
        state += m;
        m = queue.dequeue();
      }
    }
    done?.();
  };
  return {
    send(m: number) {
      if (kind === 'array') arr.push(m);
      else queue.enqueue(m);
      if (!scheduled) {
        scheduled = true;
        RESOLVED.then(drain);
      }
    },
    settle: () =>
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    state: () => state,
  };
}

// ---- the runtime -------------------------------------------------------------------------------

const system = new ActorSystem({ node: 'bench@local', logger: silentLogger });
const counter: GenServer<number, void, 'get', number, number, never> = {
  init: () => ({ ok: 0 }),
  handleCast: (m, n) => ({ noreply: true, state: n + m }),
  handleCall: (_r, _f, n) => ({ reply: n, state: n }),
};
const ref = await system.spawn(counter, undefined);

const CALLS = 300_000;
const CASTS = 1_000_000;

const bare = bareServer((x) => x + 1);
const calls = await interleaved(
  {
    name: 'bare promise round trip',
    round: async (n) => {
      for (let i = 0; i < n; i++) await bare(i);
    },
  },
  {
    name: 'call (5000 ms timeout armed)',
    round: async (n) => {
      for (let i = 0; i < n; i++) await system.call(ref, 'get');
    },
  },
  { ops: CALLS },
);

const arrayBox = bareMailbox('array');
const queueBox = bareMailbox('queue');
const bareQueue = await measure('bare batched mailbox (mnemonist Queue)', { ops: CASTS }, async (n) => {
  const settled = queueBox.settle();
  for (let i = 0; i < n; i++) queueBox.send(1);
  await settled;
});
// The array mailbox is the faster baseline here: the cast ratio is taken against it.
const casts = await interleaved(
  {
    name: 'bare batched mailbox (array)',
    round: async (n) => {
      const settled = arrayBox.settle();
      for (let i = 0; i < n; i++) arrayBox.send(1);
      await settled;
    },
  },
  {
    name: 'cast to one actor',
    round: async (n) => {
      for (let i = 0; i < n; i++) system.cast(ref, 1);
      await system.call(ref, 'get', Number.POSITIVE_INFINITY);
    },
  },
  { ops: CASTS },
);

const machine = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'inc'; by: number } },
}).createMachine({
  context: { n: 0 },
  on: { inc: { actions: assign({ n: ({ context, event }) => context.n + event.by }) } },
});
const xs = createActor(machine).start();
const XS_OPS = 100_000;
const vsXstate = await interleaved(
  {
    name: 'xstate actor.send + assign',
    round: (n) => {
      for (let i = 0; i < n; i++) xs.send({ type: 'inc', by: 1 });
    },
  },
  {
    name: 'GenServer cast, same update',
    round: async (n) => {
      for (let i = 0; i < n; i++) system.cast(ref, 1);
      await system.call(ref, 'get', Number.POSITIVE_INFINITY);
    },
  },
  { ops: XS_OPS, rounds: 5 },
);

const idle: GenServer<null, void> = { init: () => ({ ok: null }) };
const SPAWNS = 100_000;
const spawnStop = await measure('spawn + stop (100k)', { ops: SPAWNS, rounds: 3, warmup: 1 }, async (n) => {
  const refs = [];
  for (let i = 0; i < n; i++) refs.push(system.spawn(idle, undefined));
  const started = await Promise.all(refs);
  await Promise.all(started.map((r) => system.stop(r)));
});

table([
  calls.baseline,
  calls.project,
  casts.baseline,
  bareQueue,
  casts.project,
  vsXstate.baseline,
  vsXstate.project,
  spawnStop,
]);

const before = heapUsed();
const alive = [];
for (let i = 0; i < SPAWNS; i++) alive.push(await system.spawn(idle, undefined));
const perActor = (heapUsed() - before) / SPAWNS;
process.stdout.write(
  `heap per idle actor with ${SPAWNS} alive: ${perActor.toFixed(0)} B${
    (globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for a stable figure)'
  }\n\n`,
);

// Each ratio is the median of per-round ratios of interleaved rounds (bench/lib.ts `interleaved`).
ratio('call', calls.ratio);
ratio('cast', casts.ratio);
ratio('vs-xstate', vsXstate.ratio);
figure('spawn-stop', spawnStop.opsPerSec, 'per_s');
figure('idle-actor', perActor, 'bytes');
process.exit(0);
