// `--workers N`: the primary process. It forks N workers with Node's `cluster` module (they share
// the listening port: the primary accepts and hands connections round-robin), each a chat server
// and a node of the cluster under its own name, prints one banner for all, restarts a worker that
// dies (the cluster cleans the dead incarnation's sessions on a survivor, as after a kill -9), and
// stops them all on Ctrl-C / SIGTERM. It is a one_for_one supervisor with OTP's restart intensity:
// more than `MAX_RESTARTS` restarts within `RESTART_PERIOD_MS` and it gives up (as a supervisor
// whose intensity is exceeded terminates), stopping the others and exiting 1.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { ChatServerConfig } from './config.ts';
import { uniqueNodeName } from './startChatServer.ts';

/** OTP's supervisor intensity and period for the workers (ejabberd's own supervisors use 10 in 1 s). */
const MAX_RESTARTS = 5;
const RESTART_PERIOD_MS = 60_000;
/** How long the workers have to stop in order before they are killed. */
const STOP_TIMEOUT_MS = 15_000;
/** The environment variable that gives a worker its node name. */
export const WORKER_NODE_ENV = 'OTP_CHAT_WORKER_NODE';

/**
 * Worker `i`'s node name: `--node` (or a name unique to this primary) with `-w<i>` added to its
 * name part. A restarted worker takes its slot's name again, so its new incarnation replaces the
 * dead one at once (the other nodes see `nodedown` then `nodeup`, and one of them cleans it).
 */
export function workerNodeName(base: string, i: number): string {
  const at = base.indexOf('@');
  return at < 0 ? `${base}-w${i}` : `${base.slice(0, at)}-w${i}${base.slice(at)}`;
}

interface Slot {
  readonly index: number;
  readonly node: string;
  worker: Worker | undefined;
  /** Its banner, collected until it says it listens (`Ctrl-C to stop.`), then undefined. */
  banner: string[] | undefined;
}

/**
 * Runs the primary of `count` workers until they are all stopped; resolves with the exit code (0
 * after a stop, 1 when a worker could not start or restarted too often). `write` prints a line.
 */
export function superviseWorkers(
  config: ChatServerConfig,
  count: number,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const base = config.node ?? uniqueNodeName();
  // The workers share the admin port (the primary hands its connections round-robin too), so they
  // must share one token: the given one, or one made here (printed below), never one per worker.
  const adminToken =
    config.adminPort === 'off' ? undefined : (config.adminToken ?? process.env.OTP_CHAT_ADMIN_TOKEN);
  const madeToken =
    config.adminPort === 'off' || adminToken !== undefined
      ? undefined
      : randomBytes(24).toString('base64url');
  // Piped, so that the primary prints one banner and prefixes the workers' later lines.
  cluster.setupPrimary({ silent: true });
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    index: i + 1,
    node: workerNodeName(base, i + 1),
    worker: undefined,
    banner: [],
  }));
  const restarts: number[] = [];
  let firstBanner: string[] | undefined;
  let started = false;
  let stopping = false;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    done = resolve;
  });
  const live = () => slots.filter((s) => s.worker !== undefined && !s.worker.isDead());

  const fork = (slot: Slot) => {
    const token = adminToken ?? madeToken;
    const worker = cluster.fork({
      [WORKER_NODE_ENV]: slot.node,
      ...(token === undefined ? {} : { OTP_CHAT_ADMIN_TOKEN: token }),
    });
    slot.worker = worker;
    slot.banner = [];
    for (const stream of [worker.process.stdout, worker.process.stderr]) {
      let partial = '';
      stream?.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) output(slot, line);
      });
    }
    worker.on('exit', (code, signal) => void exited(slot, worker, code, signal));
  };

  /** A worker's line: its banner is kept for the primary's; later lines say which worker wrote them. */
  const output = (slot: Slot, line: string) => {
    if (slot.banner === undefined) {
      if (line === '') return;
      // pino's JSON lines stay parseable.
      write(line.startsWith('{') ? line : `[worker ${slot.index} ${slot.node}] ${line}`);
      return;
    }
    slot.banner.push(line);
    if (!line.includes('Ctrl-C to stop.')) return;
    const banner = slot.banner;
    slot.banner = undefined;
    if (started) {
      write(`worker ${slot.index} restarted: node ${slot.node}, pid ${slot.worker?.process.pid}`);
      return;
    }
    firstBanner ??= banner;
    if (slots.some((s) => s.banner !== undefined)) return;
    started = true;
    for (const l of firstBanner) {
      if (!/^\s*node: /.test(l)) {
        write(l);
        continue;
      }
      write(
        `  workers: ${count} processes sharing the port, restarted when one dies (primary pid ${process.pid})`,
      );
      for (const s of slots) write(`    worker ${s.index}: node ${s.node}, pid ${s.worker?.process.pid}`);
      if (madeToken !== undefined) {
        write(`  admin token of every worker (generated; each answers the admin port in turn): ${madeToken}`);
      }
    }
  };

  const exited = async (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker !== worker) return;
    const how = signal ?? `code ${code}`;
    if (stopping) return;
    if (!started) {
      // A worker that never listened (Redis unreachable, the port taken, a bad config): restarting
      // would fail again. Say what it said and stop the rest.
      for (const line of slot.banner ?? []) if (line !== '') write(line);
      write(`worker ${slot.index} (${slot.node}) exited before it listened (${how}); stopping`);
      await stopAll(1);
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! <= now - RESTART_PERIOD_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      write(
        `worker ${slot.index} (${slot.node}) exited (${how}): more than ${MAX_RESTARTS} restarts within ${RESTART_PERIOD_MS / 1000} s; stopping`,
      );
      await stopAll(1);
      return;
    }
    write(`worker ${slot.index} (${slot.node}) exited (${how}); restarting it`);
    fork(slot);
  };

  /** SIGTERM to every live worker (each ends its streams and leaves the cluster), SIGKILL after the deadline. */
  const stopAll = async (code: number, last?: string) => {
    stopping = true;
    const running = live();
    const killer = setTimeout(() => {
      write(`the workers did not stop within ${STOP_TIMEOUT_MS} ms; killing them`);
      for (const s of live()) s.worker?.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    killer.unref();
    await Promise.all(
      running.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.worker!.once('exit', () => resolve());
            s.worker!.process.kill('SIGTERM');
          }),
      ),
    );
    clearTimeout(killer);
    if (last !== undefined) write(last);
    done(code);
  };

  const onSignal = (signal: string) => {
    if (stopping) {
      write('forced exit');
      for (const s of live()) s.worker?.process.kill('SIGKILL');
      done(130);
      return;
    }
    write(`\n${signal}: stopping ${count} workers (each closes its streams and sessions)...`);
    void stopAll(0, 'stopped.');
  };
  // ejabberd's reload_config on every node: each worker reads its flags and file again.
  process.on('SIGHUP', () => {
    for (const s of live()) s.worker?.process.kill('SIGHUP');
  });
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Started by a parent process over IPC (tests, examples/cluster): stop with it.
  if (process.send !== undefined) process.on('disconnect', () => onSignal('parent gone'));

  for (const slot of slots) fork(slot);
  return finished;
}
