// A small supervision tree that shows OTP supervision at work: what starts, what crashes, what
// restarts, and what happens when a supervisor's restart intensity is exceeded.
//
//   app (one_for_one, 3 restarts / 5 s)
//   ├── ticker            worker
//   ├── pipeline          supervisor, rest_for_one: source → parser → sink
//   ├── flaky             supervisor, one_for_one, 1 restart / 5 s: crashy
//   └── pool              supervisor, simple_one_for_one: conn (transient), started on demand
import { pathToFileURL } from 'node:url';
import {
  type ActorContext,
  type ActorRef,
  ActorSystem,
  formatReason,
  type GenServer,
  silentLogger,
} from '@otp-chat/actor';
import {
  Application,
  dynamicWorker,
  Supervisor,
  type SupervisorEvent,
  supervisor,
  worker,
} from '@otp-chat/supervisor';

/** A worker that answers `ping`, crashes on the `crash` cast and says when it stops. */
function chatty(print: (line: string) => void): GenServer<string, string, 'ping', string, 'crash'> {
  return {
    init(name: string, ctx: ActorContext) {
      ctx.trapExit(true); // so that a supervisor shutdown runs terminate
      return { ok: name };
    },
    handleCall(_request, _from, name) {
      return { reply: `pong from ${name}`, state: name };
    },
    handleCast(_message, name) {
      print(`  ${name}: crashing on purpose`);
      throw new Error(`${name} crashed`);
    },
    terminate(reason, name) {
      if (reason === 'shutdown') print(`  ${name}: terminate (${formatReason(reason)})`);
    },
  };
}

function describe(event: SupervisorEvent): string | undefined {
  const sup = `[${event.supervisorName ?? event.supervisor.toString()}]`;
  switch (event.type) {
    case 'child_started':
      return `${sup} started ${event.id}`;
    case 'child_terminated':
      return `${sup} ${event.id} exited: ${formatReason(event.reason)} -> ${event.action}`;
    case 'child_restarted':
      return `${sup} restarted ${event.id} (${event.restartsInWindow} restart(s) in the window)`;
    case 'child_start_failed':
      return `${sup} failed to start ${event.id}`;
    case 'intensity_exceeded':
      return `${sup} INTENSITY EXCEEDED: ${event.restarts} restarts > ${event.intensity} in ${event.period} s -> the supervisor gives up`;
    case 'supervisor_shutdown':
      return `${sup} shutting down (${formatReason(event.reason)})`;
    case 'child_stopped':
      return `${sup} stopped ${event.id}`;
    default:
      return undefined;
  }
}

/** Options of {@link main}; the defaults are what `pnpm start` uses. */
export interface MainOptions {
  /** Where lines go. @default console.log */
  readonly print?: (line: string) => void;
  /** Stop on SIGINT/SIGTERM while the demo runs. @default true */
  readonly handleSignals?: boolean;
}

/** Runs the demo from start to a clean stop; resolves when the tree is gone. */
export async function main(options: MainOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  // The default logger is pino (JSON on stdout); this demo prints its own lines from the events.
  const system = new ActorSystem({ node: 'demo@local', logger: silentLogger });

  const waiters: Array<{ match: (e: SupervisorEvent) => boolean; resolve: () => void }> = [];
  const onEvent = (event: SupervisorEvent) => {
    const line = describe(event);
    if (line !== undefined) print(line);
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  /** Resolves at the next event of this type for this child id. */
  const next = (type: SupervisorEvent['type'], id: string) =>
    new Promise<void>((resolve) =>
      waiters.push({ match: (e) => e.type === type && 'id' in e && e.id === id, resolve }),
    );

  const w = chatty(print);
  print('== starting the tree');
  const app = await Application.start(
    {
      label: 'app',
      intensity: 3,
      period: 5,
      onEvent,
      children: [
        worker('ticker', w, 'ticker'),
        supervisor('pipeline', {
          label: 'pipeline',
          strategy: 'rest_for_one',
          intensity: 3,
          onEvent,
          children: [worker('source', w, 'source'), worker('parser', w, 'parser'), worker('sink', w, 'sink')],
        }),
        supervisor('flaky', {
          label: 'flaky',
          intensity: 1,
          period: 5,
          onEvent,
          children: [worker('crashy', w, 'crashy')],
        }),
        supervisor('pool', {
          label: 'pool',
          strategy: 'simple_one_for_one',
          onEvent,
          children: [dynamicWorker('conn', w, (n) => `conn-${String(n)}`, { restart: 'transient' })],
        }),
      ],
    },
    { system, handleSignals: options.handleSignals ?? true },
  );
  const child = async (sup: ActorRef, id: string): Promise<ActorRef> => {
    const row = (await Supervisor.whichChildren(system, sup)).find((r) => r.id === id);
    return row!.ref as ActorRef;
  };
  const pipeline = await child(app.root, 'pipeline');
  const pool = await child(app.root, 'pool');

  print('== the pool starts three connections on demand (simple_one_for_one)');
  const conns: ActorRef[] = [];
  for (let i = 1; i <= 3; i++) {
    const started = await Supervisor.startChild(system, pool, i);
    if ('ok' in started && started.ok !== undefined) conns.push(started.ok);
  }
  print(`  pool: ${(await Supervisor.countChildren(system, pool)).active} connections`);

  print('== crashy crashes once: flaky restarts it (one_for_one)');
  let restarted = next('child_restarted', 'crashy');
  system.cast(await child(await child(app.root, 'flaky'), 'crashy'), 'crash');
  await restarted;

  print('== parser crashes: pipeline restarts parser and the sink after it (rest_for_one)');
  restarted = next('child_restarted', 'sink');
  system.cast(await child(pipeline, 'parser'), 'crash');
  await restarted;

  print('== conn-2 crashes: the pool restarts it with the same arguments (transient, abnormal exit)');
  restarted = next('child_restarted', 'conn');
  system.cast(conns[1]!, 'crash');
  await restarted;
  print(
    `  ${await system.call(conns[0]!, 'ping')}; pool: ${(await Supervisor.countChildren(system, pool)).active} connections`,
  );

  print('== crashy crashes again within 5 s: flaky exceeds its intensity, app restarts flaky');
  restarted = next('child_restarted', 'flaky');
  system.cast(await child(await child(app.root, 'flaky'), 'crashy'), 'crash');
  await restarted;
  const crashy = await child(await child(app.root, 'flaky'), 'crashy');
  print(`  ${await system.call(crashy, 'ping')} (a fresh flaky supervisor and a fresh crashy)`);

  print('== stopping the application: children stop in reverse start order');
  await app.stop();
  print(`== stopped (${system.count()} actors left)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
