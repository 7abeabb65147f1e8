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

  /** Starts a node; resolves once it listens (or rejects with what it printed when it exits first). */
  static async start(args: readonly string[]): Promise<ChatNode> {
    const proc = fork(MAIN, ['--port', '0', ...args], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, OTP_CHAT_LOG_LEVEL: 'error' },
    });
    const node = new ChatNode(proc);
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        node.output.push(d.toString());
        const text = node.output.join('');
        const listening = /listening on [\d.]+:(\d+)/.exec(text);
        const name = /node: (\S+)/.exec(text);
        if (listening && name && node.port === 0) {
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
