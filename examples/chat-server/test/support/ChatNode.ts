import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const all = new Set<ChatNode>();

/**
 * `examples/chat-server` in a child process, started with its command-line flags (as a user would
 * run it), over IPC so that it stops with this process. `port` is read from its banner.
 */
export class ChatNode {
  readonly output: string[] = [];
  readonly exited: Promise<number | string | null>;
  port = 0;
  node = '';

  private constructor(readonly proc: ChildProcess) {
    all.add(this);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        all.delete(this);
        resolve(code ?? signal);
      }),
    );
  }

  /**
   * Starts a node; resolves once it listens (or rejects with what it printed when it exits first).
   * `logLevel` is its `OTP_CHAT_LOG_LEVEL` (its pino lines land in `output`). @default 'error'
   * `env` is added to (or, with `undefined` values, removed from) this process's environment.
   */
  static async start(
    args: readonly string[],
    options: { readonly logLevel?: string; readonly env?: Readonly<Record<string, string | undefined>> } = {},
  ): Promise<ChatNode> {
    // One process per node unless a test asks for workers (the default is one per core with Redis).
    const workers = args.includes('--workers') ? [] : ['--workers', '1'];
    const proc = fork(MAIN, ['--port', '0', ...workers, ...args], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...options.env, OTP_CHAT_LOG_LEVEL: options.logLevel ?? 'error' },
    });
    const node = new ChatNode(proc);
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        node.output.push(d.toString());
        const text = node.output.join('');
        const listening = /listening on [\d.]+:(\d+)/.exec(text);
        // A primary of --workers names its workers' nodes instead of its own.
        const name = /node: (\S+)/.exec(text) ?? /worker 1: node (\S+)/.exec(text);
        if (listening && name && /Ctrl-C to stop/.test(text) && node.port === 0) {
          node.port = Number(listening[1]);
          node.node = name[1]!;
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      void node.exited.then((code) =>
        reject(new Error(`chat server exited (${code}): ${node.output.join('')}`)),
      );
    });
    return node;
  }

  /** The JSON log lines (pino) this node printed so far, parsed; other lines skipped. */
  logLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.output.join('').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // the last line may still be incomplete
      }
    }
    return out;
  }

  /**
   * The workers of a `--workers` primary by index, as its banner and its restart lines name them
   * (the latest line for an index wins).
   */
  workers(): Map<number, { readonly node: string; readonly pid: number }> {
    const out = new Map<number, { node: string; pid: number }>();
    const text = this.output.join('');
    for (const m of text.matchAll(/worker (\d+)(?::| restarted:) node (\S+), pid (\d+)/g)) {
      out.set(Number(m[1]), { node: m[2]!, pid: Number(m[3]) });
    }
    return out;
  }

  /** kill -9: no shutdown at all. */
  async kill9(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Ctrl-C, then SIGKILL if it has not exited within 10 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Every node started by this test file, stopped. */
  static async stopAll(): Promise<void> {
    await Promise.all([...all].map((n) => n.stop()));
  }
}
