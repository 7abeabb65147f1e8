import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Options of {@link RedisServer.start}. */
export interface RedisServerOptions {
  /** A fixed port. @default a free loopback port */
  readonly port?: number;
  /**
   * Keep data across {@link RedisServer.kill} / {@link RedisServer.restart}: an append-only file with
   * `appendfsync always` in a temporary directory, so that every acknowledged write survives a
   * `kill -9`. @default false (`--save '' --appendonly no`)
   */
  readonly persistent?: boolean;
  /** The binary. @default `redis-server` found on `PATH` */
  readonly binary?: string;
}

/** Finds `redis-server` on `PATH`, or `undefined`. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
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

/**
 * A `redis-server` child process on a loopback port, for tests and benchmarks: isolated, and free to
 * be killed (`kill -9`) and restarted on the same port for fault tests.
 *
 * ```ts
 * const server = await RedisServer.start();
 * // … new RedisBackend({ url: server.url }) …
 * await server.kill();    // SIGKILL, as a crash
 * await server.restart(); // same port
 * await server.stop();
 * ```
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir: string | undefined;

  private constructor(
    readonly port: number,
    private readonly binary: string,
    persistent: boolean,
  ) {
    this.dir = persistent ? mkdtempSync(join(tmpdir(), 'otp-chat-redis-')) : undefined;
  }

  /** Starts a server and resolves once it accepts connections. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const binary = options.binary ?? findRedisServer();
    if (binary === undefined) throw new Error('redis-server is not on PATH');
    for (let attempt = 0; ; attempt++) {
      const server = new RedisServer(options.port ?? (await freePort()), binary, options.persistent ?? false);
      try {
        await server.launch();
        return server;
      } catch (error) {
        await server.stop();
        // Another process may have taken the free port in between: try another one.
        if (options.port !== undefined || attempt >= 3) throw error;
      }
    }
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's process id while it runs (for CPU accounting in benchmarks). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Kills the server with SIGKILL (a crash: no shutdown, no save) and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    });
  }

  /**
   * Freezes the server (SIGSTOP): connections stay open, nothing is answered, as a stuck or
   * swapping host. {@link resume} (SIGCONT) lets it go on; {@link kill} and {@link stop} resume it
   * first.
   */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Undoes {@link pause} (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Starts the server again on the same port (after {@link kill}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Kills the server and removes its data directory. */
  async stop(): Promise<void> {
    await this.kill();
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  private launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''];
    if (this.dir === undefined) args.push('--appendonly', 'no');
    else args.push('--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir);
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let output = '';
      let done = false;
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (!done && output.includes('Ready to accept connections')) {
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
        reject(
          new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`),
        );
      });
    });
  }
}
