import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The PostgreSQL server binaries a private server needs. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** Options of {@link PostgresServer.start}. */
export interface PostgresServerOptions {
  /** A fixed port. @default a free loopback port */
  readonly port?: number;
  /** @default found by {@link findPostgresBinaries} */
  readonly binaries?: PostgresBinaries;
  /**
   * Extra `-c name=value` settings. The defaults favour tests: `fsync=off` (a killed server loses
   * nothing it acknowledged, since the kernel still holds every write; only a machine crash would),
   * `synchronous_commit=on`, no logging collector, small `max_connections`.
   */
  readonly settings?: Readonly<Record<string, string>>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds `initdb` and `postgres`: on `PATH` first, then in Debian's `/usr/lib/postgresql/<v>/bin`
 * (the highest version), where `postgresql-<v>` installs them off `PATH`. `undefined` when absent.
 */
export function findPostgresBinaries(): PostgresBinaries | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (executable(initdb) && executable(postgres)) return { initdb, postgres };
  }
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {}
  for (const v of versions) {
    const bin = `/usr/lib/postgresql/${v}/bin`;
    const initdb = join(bin, 'initdb');
    const postgres = join(bin, 'postgres');
    if (executable(initdb) && executable(postgres)) return { initdb, postgres };
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The account a server started by root runs as (initdb and postgres refuse to run as root). */
interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/**
 * As root, the unprivileged account to run the server as: `postgres` (Debian's package creates it),
 * else `nobody`. As any other user, `undefined` (the server runs as that user).
 */
function accountForServer(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {}
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const fields = line?.split(':');
    if (fields !== undefined && fields.length > 3) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root and neither a postgres nor a nobody account exists to run PostgreSQL');
}

/** `setpriv` when present: it makes the server die with this process (`--pdeathsig`). */
function findSetpriv(): string | undefined {
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) if (executable(p)) return p;
  return undefined;
}

/** The pids whose parent is `pid` (Linux `/proc`; empty elsewhere). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const DEFAULT_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'off',
  synchronous_commit: 'on',
  full_page_writes: 'off',
  max_connections: '60',
  shared_buffers: '32MB',
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_line_prefix: '',
};

/**
 * A private PostgreSQL server (`initdb` + `postgres`) in a temporary directory on a free loopback
 * port, for tests and benchmarks: isolated from the machine's own server, and free to be killed
 * (`kill -9` of the whole server, backends included) and restarted on the same port and data, for
 * fault tests. Trust authentication, user `postgres`, database `postgres`, UTF-8.
 *
 * As root (CI), `initdb` and `postgres` refuse to run, so the server runs as the `postgres` account
 * (else `nobody`) and its directory is handed to that account. With `setpriv` on the machine the
 * server is started with `--pdeathsig KILL`, so it never outlives the process that started it.
 *
 * ```ts
 * const pg = await PostgresServer.start();
 * // … new SqlBackend({ url: pg.url }) …
 * await pg.kill();    // SIGKILL to the server's process group, as a crash
 * await pg.restart(); // same port, same data: crash recovery
 * await pg.restartEmpty(); // same port, a fresh database (initdb again)
 * pg.pause(); pg.resume(); // frozen (SIGSTOP) and going on (SIGCONT)
 * await pg.stop();    // kills it and removes the directory
 * ```
 */
export class PostgresServer {
  private child: ChildProcess | undefined;
  private readonly dir: string;
  private readonly runAs: RunAs | undefined;

  private constructor(
    readonly port: number,
    private readonly binaries: PostgresBinaries,
    private readonly settings: Readonly<Record<string, string>>,
  ) {
    this.runAs = accountForServer();
    // As root the server's account must reach the directory: /tmp is open to all, TMPDIR may not be.
    this.dir = mkdtempSync(join(this.runAs === undefined ? tmpdir() : '/tmp', 'otp-chat-pg-'));
    if (this.runAs !== undefined) chownSync(this.dir, this.runAs.uid, this.runAs.gid);
  }

  /** Runs `initdb`, starts the server and resolves once it accepts connections. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const binaries = options.binaries ?? findPostgresBinaries();
    if (binaries === undefined)
      throw new Error('initdb and postgres were not found (PATH, /usr/lib/postgresql)');
    const settings = { ...DEFAULT_SETTINGS, ...options.settings };
    for (let attempt = 0; ; attempt++) {
      const server = new PostgresServer(options.port ?? (await freePort()), binaries, settings);
      try {
        server.initdb();
        await server.launch();
        return server;
      } catch (error) {
        await server.stop();
        // Another process may have taken the free port in between: try another one.
        if (options.port !== undefined || attempt >= 2) throw error;
      }
    }
  }

  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** The data directory's parent (for logs and diagnosis). */
  get directory(): string {
    return this.dir;
  }

  /**
   * Kills the server with SIGKILL, the postmaster and every backend at once, as a crash, and waits
   * for them to be gone. The data directory is kept. (Backends put themselves in sessions of their
   * own, so a signal to the postmaster's process group would miss them: they are found by parent.)
   */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const pid = child.pid;
    const backends = pid === undefined ? [] : childrenOf(pid);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
      for (const b of backends) {
        try {
          process.kill(b, 'SIGKILL');
        } catch {}
      }
    });
    // Forked backends not yet seen are orphans now; they exit on noticing the postmaster's death.
    for (let i = 0; i < 200 && backends.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** Starts the server again on the same port and data (after {@link kill}): crash recovery. */
  async restart(): Promise<void> {
    await this.kill();
    // Backends killed with the group may take a moment to release the shared memory; retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /**
   * Kills the server and starts it again on the same port with a new, empty data directory
   * (`initdb` again): a fresh database, as after a lost disk or a fail-over to an empty replica.
   */
  async restartEmpty(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
    this.initdb();
    await this.restart();
  }

  /**
   * Freezes the server, the postmaster and every backend (SIGSTOP): connections stay open and
   * nothing is answered, as a stuck or swapping host. {@link resume} lets it go on; {@link kill}
   * and {@link stop} work on a frozen server.
   */
  pause(): void {
    this.signalAll('SIGSTOP');
  }

  /** Undoes {@link pause} (SIGCONT). */
  resume(): void {
    this.signalAll('SIGCONT');
  }

  /** The postmaster first (no backend is forked after it), then its children. */
  private signalAll(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    for (const p of [pid, ...childrenOf(pid)]) {
      try {
        process.kill(p, signal);
      } catch {}
    }
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private initdb(): void {
    const args = [
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ];
    try {
      execFileSync(this.binaries.initdb, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(this.runAs === undefined ? {} : { uid: this.runAs.uid, gid: this.runAs.gid }),
        env: { ...process.env, LC_ALL: 'C' },
        timeout: 60_000,
      });
    } catch (error) {
      const e = error as { stderr?: Buffer; message: string };
      throw new Error(`initdb failed: ${e.stderr?.toString() ?? e.message}`);
    }
  }

  private launch(): Promise<void> {
    const args = [
      '-D',
      this.dataDir,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
    ];
    for (const [name, value] of Object.entries(this.settings)) args.push('-c', `${name}=${value}`);
    const setpriv = findSetpriv();
    const [command, argv] =
      setpriv === undefined
        ? [this.binaries.postgres, args]
        : [setpriv, ['--pdeathsig', 'KILL', '--', this.binaries.postgres, ...args]];
    const child = spawn(command, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C meant for the test runner is not a server crash.
      detached: true,
      ...(this.runAs === undefined ? {} : { uid: this.runAs.uid, gid: this.runAs.gid }),
      env: { ...process.env, LC_ALL: 'C' },
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      let output = '';
      let done = false;
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (process.env.PGDEBUG) process.stderr.write(`[pg] ${chunk}`);
        if (!done && output.includes('ready to accept connections')) {
          done = true;
          // Keep draining the pipes so that the server never blocks on a full one.
          resolve();
        }
        if (output.length > 64_000) output = output.slice(-16_000);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        if (done) return;
        done = true;
        this.child = undefined;
        reject(error);
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (done) return;
        done = true;
        reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
      });
    });
  }
}
