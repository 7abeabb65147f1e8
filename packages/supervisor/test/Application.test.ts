// Application root (issue "Application"): start resolves when the tree is up, stop runs every
// terminate in reverse order, SIGINT/SIGTERM stop once and a second signal exits at once.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ExitReason } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { Application, ApplicationStartError, Supervisor, supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, flush, testSystem, testWorker } from './helpers.ts';

class FakeSignals extends EventEmitter {
  override on(signal: string, listener: () => void): this {
    return super.on(signal, listener);
  }
}

describe('Application', () => {
  it('start resolves with every child up; stop stops them in reverse order and resolves after terminate', async () => {
    const { system } = testSystem();
    const terminated: Array<[unknown, ExitReason]> = [];
    const w = testWorker({ trapExit: true, terminated });
    const app = await Application.start(
      {
        children: [
          worker('a', w, 'a'),
          supervisor('mid', { children: [worker('b', w, 'b')] }),
          worker('c', w, 'c'),
        ],
      },
      { system, handleSignals: false },
    );
    expect((await Supervisor.countChildren(system, app.root)).active).toBe(3);
    const first = app.stop();
    expect(app.stop()).toBe(first);
    await first;
    expect(terminated.map(([id]) => id)).toEqual(['c', 'b', 'a']);
    expect(await app.stopped).toBe('shutdown');
    expect(system.count()).toBe(0);
  });

  it('a tree that fails to start rejects with ApplicationStartError', async () => {
    const { system } = testSystem();
    const bad = testWorker({ initResult: () => ({ stop: { exit: 'no' } }) });
    await expect(
      Application.start({ children: [worker('x', bad, 0)] }, { system, handleSignals: false }),
    ).rejects.toBeInstanceOf(ApplicationStartError);
    expect(system.count()).toBe(0);
  });

  it('the first signal stops the tree gracefully, a second exits at once; handlers are removed after', async () => {
    const { system } = testSystem();
    const signals = new FakeSignals();
    const exits: number[] = [];
    const w = testWorker({ trapExit: true, hangInTerminate: true });
    const app = await Application.start(
      { children: [worker('stuck', w, 0, { shutdown: 'infinity' })] },
      { system, signals, exit: (code) => exits.push(code) },
    );
    expect(signals.listenerCount('SIGINT')).toBe(1);
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    signals.emit('SIGTERM');
    await flush();
    expect(system.isAlive(app.root)).toBe(true); // stopping, blocked in terminate
    expect(exits).toEqual([]);
    signals.emit('SIGINT');
    expect(exits).toEqual([130]);
    // Unblock and check the handlers go away with the tree.
    for (const ref of system.processes()) if (!ref.equals(app.root)) system.exit(ref, 'kill');
    await app.stopped;
    expect(signals.listenerCount('SIGINT')).toBe(0);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('a root that gives up (intensity) resolves stopped with shutdown and removes the handlers', async () => {
    const { system } = testSystem();
    const signals = new FakeSignals();
    const app = await Application.start(
      { intensity: 0, children: [worker('a', testWorker(), 0)] },
      { system, signals, exit: () => {} },
    );
    const [a] = await childrenInStartOrder(system, app.root);
    system.exit(a!.ref as never, { exit: 'crash' });
    expect(await app.stopped).toBe('shutdown');
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    await app.stop(); // resolves at once
  });

  const fixture = fileURLToPath(new URL('./fixtures/signal-app.ts', import.meta.url));
  function runFixture(
    args: string[],
    signals: NodeJS.Signals[],
  ): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      let sent = false;
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!sent && out.includes('ready\n')) {
          sent = true;
          child.kill(signals[0]);
          if (signals[1]) {
            const second = signals[1];
            const wait = () => (out.includes('terminate ran') ? child.kill(second) : setImmediate(wait));
            wait();
          }
        }
      });
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, out }));
    });
  }

  it('real SIGTERM in a subprocess: graceful stop, terminate runs, the process exits 0', async () => {
    const { code, out } = await runFixture([], ['SIGTERM']);
    expect(out).toBe('ready\nterminate ran\nstopped shutdown\n');
    expect(code).toBe(0);
  });

  it('real SIGINT twice in a subprocess with a stuck terminate: exits at once with 130', async () => {
    const { code, out } = await runFixture(['--hang'], ['SIGINT', 'SIGINT']);
    expect(out).toBe('ready\nterminate ran\n');
    expect(code).toBe(130);
  });
});
