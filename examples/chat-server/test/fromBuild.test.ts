// What `pnpm start` runs: dist/main.js with plain `node` (no TypeScript loader, no source condition),
// from the build that `pnpm test` makes before vitest. A client logs in, Ctrl-C stops it cleanly.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connectClient } from '@otp-chat/xmpp/testing';
import { afterEach, describe, expect, it } from 'vitest';
import './support/trustCertificate.ts';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The environment of `pnpm start`: none of the workspace's development flags. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

describe('examples/chat-server from the build', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('runs dist/main.js with plain node: listens, logs a client in, stops on SIGINT with exit 0', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: build first (pnpm build)`).toBe(true);
    const proc = spawn(process.execPath, [MAIN, '--port', '0'], {
      env: plainEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      void exited.then((code) =>
        reject(new Error(`exited with ${code} before listening\n${stdout}\n${stderr}`)),
      );
    });

    const alice = await connectClient({ port, username: 'alice', password: 'alice', resource: 'build' });
    expect(alice.jid).toBe('alice@localhost/build');
    await alice.xmpp.stop();

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped.');
    expect(stderr).toBe('');
  });
});
