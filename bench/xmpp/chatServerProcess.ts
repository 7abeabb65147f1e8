// The otp-chat server as an operator runs it, for bench/xmpp's raw rounds and bench/scale:
// examples/chat-server's build (`dist/main.js`, plain node) with `--backend redis` and `--workers W`,
// N users from a config file, on a private redis-server. Its CPU and RSS are those of every process
// it is made of: the primary, the workers and redis-server (ejabberd's sessions are in its own VM).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMAIN, PASSWORD, type ServerHandle, user } from './shared.ts';

const MAIN = fileURLToPath(new URL('../../examples/chat-server/dist/main.js', import.meta.url));

/** utime + stime of a process in seconds (fields 14 and 15 of /proc/pid/stat, 100 Hz ticks); 0 once gone. */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes; 0 once gone. */
function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

export interface ChatServerProcess extends ServerHandle {
  /** The primary's and the workers' process ids (redis-server's not included). */
  readonly pids: readonly number[];
  /** CPU seconds so far of each process: `primary`, `worker <i>`, `redis`. */
  cpuByProcess(): Record<string, number>;
}

/**
 * Starts the chat server with `workers` workers and users u0…u(n-1) (password {@link PASSWORD})
 * on `redisUrl` (a database of its own); `nodeFlags` go to the primary and, through
 * `cluster.fork`, to every worker. Resolves once every worker listens.
 */
export async function startChatServerProcess(options: {
  readonly name: string;
  readonly workers: number;
  readonly n: number;
  readonly redisUrl: string;
  readonly redisPid: number | undefined;
  readonly nodeFlags?: readonly string[];
  readonly prefix?: string;
  /** `memory` (one worker only; `redisUrl` unused): the chat server without Redis. @default 'redis' */
  readonly backend?: 'redis' | 'memory';
}): Promise<ChatServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'otp-chat-bench-'));
  const config = join(dir, 'chat.json');
  writeFileSync(
    config,
    JSON.stringify({
      domain: DOMAIN,
      port: 0,
      ...(options.backend === 'memory'
        ? { backend: 'memory' }
        : { backend: 'redis', redisUrl: options.redisUrl }),
      workers: options.workers,
      maxUserSessions: 'infinity',
      users: Array.from({ length: options.n }, (_, i) => ({ user: user(i), password: PASSWORD })),
      // Plain TCP as ejabberd's listener here: no certificate, no WebSocket listener.
      tls: false,
      websocketPort: 'off',
    }),
  );
  const child: ChildProcess = spawn(
    process.execPath,
    // A 30 s node timeout: on this 2-core machine at a load of 10, a worker busy with a burst
    // missed its heartbeats for the default 7 s, was declared down (its sessions cleaned) and
    // restarted mid-round.
    [
      ...(options.nodeFlags ?? []),
      MAIN,
      '--config',
      config,
      '--cluster-heartbeat',
      '1000',
      '--cluster-timeout',
      String(process.env.CLUSTER_TIMEOUT_MS ?? 30_000),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OTP_CHAT_LOG_LEVEL: process.env.SERVER_LOG_LEVEL ?? 'error' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  const banner = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C to stop.')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`${options.name} exited before it listened:\n${out}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 120_000);
  await banner.finally(() => clearTimeout(timeout));
  const workerPids = [...out.matchAll(/worker \d+: node \S+, pid (\d+)/g)].map((m) => Number(m[1]));
  // Lines printed later (a worker restarted, an error) go to this bench's stderr; a restarted
  // worker's new process is counted from then on.
  child.stdout!.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/worker (\d+) restarted: node \S+, pid (\d+)/g)) {
      workerPids[Number(m[1]) - 1] = Number(m[2]);
    }
    process.stderr.write(`[${options.name}] ${d}`);
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${options.name}] ${d}`));
  const port = Number(/listening on [\d.]+:(\d+)/.exec(out)![1]);
  const pids = () => [child.pid!, ...workerPids];
  const all = () => (options.redisPid === undefined ? pids() : [...pids(), options.redisPid]);
  const sum = (f: (pid: number) => number) => all().reduce((s, pid) => s + f(pid), 0);
  return {
    name: options.name,
    port,
    transport: 'xmpp',
    get pids() {
      return pids();
    },
    memory: async () => sum(rssOf),
    rss: async () => sum(rssOf),
    cpu: async () => sum(cpuOf),
    cpuByProcess: () =>
      Object.fromEntries(
        all().map((pid, i) => [
          i === 0 ? 'primary' : i <= workerPids.length ? `worker ${i}` : 'redis',
          cpuOf(pid),
        ]),
      ),
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
