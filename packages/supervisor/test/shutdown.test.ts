// Start and shutdown order, shutdown specs and timeouts, start failure, nested escalation
// (`supervisor:init_children/2` and `terminate_children/2`, the `shutdown` of a child spec, escalation to the parent).
import type { ActorRef, ExitReason } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { type ShutdownSpec, Supervisor, supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, eventLog, flush, okRef, testSystem, testWorker } from './helpers.ts';

describe('start and stop order (supervisor:init_children/2, terminate_children/2)', () => {
  it('starts children in order and stops them in reverse order, running each terminate', async () => {
    const { system } = testSystem();
    const started: unknown[] = [];
    const terminated: Array<[unknown, ExitReason]> = [];
    const w = testWorker({ trapExit: true, started, terminated });
    const sup = okRef(
      await Supervisor.start(system, { children: ['a', 'b', 'c'].map((id) => worker(id, w, id)) }),
    );
    expect(started).toEqual(['a', 'b', 'c']);
    await system.stop(sup, 'shutdown');
    expect(terminated).toEqual([
      ['c', 'shutdown'],
      ['b', 'shutdown'],
      ['a', 'shutdown'],
    ]);
    expect(system.count()).toBe(0);
  });
});

interface ShutdownRow {
  readonly name: string;
  readonly shutdown: ShutdownSpec;
  readonly trapExit: boolean;
  /** `terminate` never settles, or the handler never returns (mailbox held). */
  readonly stuck: 'no' | 'terminate' | 'handler';
  /** Advance the clock by this much after asking the supervisor to stop. */
  readonly advance: number;
  readonly expect: { readonly reason: ExitReason; readonly killed: boolean; readonly terminateRan: boolean };
}

const shutdownRows: ShutdownRow[] = [
  {
    name: 'ms, trapping: terminate runs, reason shutdown',
    shutdown: 1000,
    trapExit: true,
    stuck: 'no',
    advance: 0,
    expect: { reason: 'shutdown', killed: false, terminateRan: true },
  },
  {
    name: 'ms, not trapping: dies at once without terminate',
    shutdown: 1000,
    trapExit: false,
    stuck: 'no',
    advance: 0,
    expect: { reason: 'shutdown', killed: false, terminateRan: false },
  },
  {
    name: 'ms, a terminate that never returns: killed after the timeout',
    shutdown: 1000,
    trapExit: true,
    stuck: 'terminate',
    advance: 1000,
    expect: { reason: 'killed', killed: true, terminateRan: true },
  },
  {
    name: 'ms, a handler that never returns: killed after the timeout',
    shutdown: 500,
    trapExit: true,
    stuck: 'handler',
    advance: 500,
    expect: { reason: 'killed', killed: true, terminateRan: false },
  },
  {
    name: 'brutal_kill, trapping: no terminate, killed',
    shutdown: 'brutal_kill',
    trapExit: true,
    stuck: 'no',
    advance: 0,
    expect: { reason: 'killed', killed: false, terminateRan: false },
  },
  {
    name: 'brutal_kill, a stuck handler: killed at once',
    shutdown: 'brutal_kill',
    trapExit: true,
    stuck: 'handler',
    advance: 0,
    expect: { reason: 'killed', killed: false, terminateRan: false },
  },
  {
    name: 'infinity, trapping: waits for terminate',
    shutdown: 'infinity',
    trapExit: true,
    stuck: 'no',
    advance: 0,
    expect: { reason: 'shutdown', killed: false, terminateRan: true },
  },
];

describe('shutdown specs (the shutdown of a child spec, supervisor:shutdown/2)', () => {
  it.each(shutdownRows)('$name', async (row) => {
    const { system, clock } = testSystem();
    const log = eventLog();
    const terminated: Array<[unknown, ExitReason]> = [];
    const w = testWorker({ trapExit: row.trapExit, terminated, hangInTerminate: row.stuck === 'terminate' });
    const sup = okRef(
      await Supervisor.start(system, {
        children: [worker('w', w, 'w', { shutdown: row.shutdown })],
        onEvent: log.onEvent,
      }),
    );
    const child = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    if (row.stuck === 'handler') system.cast(child, 'hang');
    await flush();
    const childExit = system.whenExit(child);
    const stopped = system.stop(sup, 'shutdown');
    await flush();
    if (typeof row.shutdown === 'number' && row.stuck !== 'no') {
      clock.advance(row.advance - 1);
      await flush();
      expect(system.isAlive(child)).toBe(true); // not before the timeout
      clock.advance(1);
    }
    await stopped;
    expect(await childExit).toEqual(row.expect.reason);
    expect(terminated.length > 0).toBe(row.expect.terminateRan);
    expect(log.of('child_stopped')).toEqual([
      expect.objectContaining({ id: 'w', ref: child, reason: row.expect.reason, killed: row.expect.killed }),
    ]);
    // A kill after a timeout is OTP's shutdown_error; brutal_kill's `killed` is expected.
    expect(log.of('child_shutdown_error').length).toBe(row.expect.killed ? 1 : 0);
    expect(clock.pending()).toBe(0);
    expect(system.count()).toBe(0);
  });

  it('infinity waits for ever for a stuck terminate (until something kills the child)', async () => {
    const { system, clock } = testSystem();
    const w = testWorker({ trapExit: true, hangInTerminate: true });
    const sup = okRef(
      await Supervisor.start(system, { children: [worker('w', w, 'w', { shutdown: 'infinity' })] }),
    );
    const child = (await childrenInStartOrder(system, sup))[0]!.ref as ActorRef;
    let done = false;
    const stopped = system.stop(sup, 'shutdown').then(() => {
      done = true;
    });
    clock.advance(3_600_000);
    await flush();
    expect(done).toBe(false);
    expect(system.isAlive(sup)).toBe(true);
    system.exit(child, 'kill');
    await stopped;
    expect(system.count()).toBe(0);
  });

  it('a supervisor child stops its own children before it ends (shutdown infinity by default)', async () => {
    const { system } = testSystem();
    const terminated: Array<[unknown, ExitReason]> = [];
    const w = testWorker({ trapExit: true, terminated });
    const root = okRef(
      await Supervisor.start(system, {
        children: [
          worker('first', w, 'first'),
          supervisor('mid', { children: [worker('leaf1', w, 'leaf1'), worker('leaf2', w, 'leaf2')] }),
          worker('last', w, 'last'),
        ],
      }),
    );
    await system.stop(root, 'shutdown');
    expect(terminated.map(([id]) => id)).toEqual(['last', 'leaf2', 'leaf1', 'first']);
    expect(system.count()).toBe(0);
  });
});

describe('start failure (supervisor:start_link/2 returns {error, {shutdown, Reason}})', () => {
  it('a child whose init fails makes the start fail; started children are stopped, later ones never start', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const started: unknown[] = [];
    const terminated: Array<[unknown, ExitReason]> = [];
    const good = testWorker({ trapExit: true, started, terminated });
    const bad = testWorker({ started, initResult: () => ({ stop: { exit: 'bad config' } }) });
    const result = await Supervisor.start(system, {
      children: [worker('a', good, 'a'), worker('b', bad, 'b'), worker('c', good, 'c')],
      onEvent: log.onEvent,
    });
    expect(result).toEqual({
      error: { shutdown: { failedToStartChild: 'b', reason: { exit: 'bad config' } } },
    });
    expect(started).toEqual(['a', 'b']);
    expect(terminated).toEqual([['a', 'shutdown']]);
    expect(log.of('child_start_failed')).toEqual([
      expect.objectContaining({ id: 'b', reason: { exit: 'bad config' }, during: 'init' }),
    ]);
    expect(system.count()).toBe(0);
  });

  it('a start function that throws fails with { error: thrown }', async () => {
    const { system } = testSystem();
    const boom = new Error('no socket');
    const result = await Supervisor.start(system, {
      children: [
        {
          id: 'x',
          start: () => {
            throw boom;
          },
        },
      ],
    });
    expect(result).toEqual({ error: { shutdown: { failedToStartChild: 'x', reason: { error: boom } } } });
  });

  it('ignore keeps the spec without a ref; a temporary ignored child is dropped', async () => {
    const { system } = testSystem();
    const ignoring = testWorker({ initResult: () => 'ignore' });
    const sup = okRef(
      await Supervisor.start(system, {
        children: [worker('kept', ignoring, 1), worker('dropped', ignoring, 2, { restart: 'temporary' })],
      }),
    );
    expect(await childrenInStartOrder(system, sup)).toEqual([{ id: 'kept', ref: undefined, type: 'worker' }]);
    await system.stop(sup);
  });

  it('a nested supervisor whose child fails to start fails the parent start', async () => {
    const { system } = testSystem();
    const bad = testWorker({ initResult: () => ({ stop: { exit: 'nope' } }) });
    const result = await Supervisor.start(system, {
      children: [supervisor('mid', { children: [worker('leaf', bad, 0)] })],
    });
    expect(result).toEqual({
      error: {
        shutdown: {
          failedToStartChild: 'mid',
          reason: { shutdown: { failedToStartChild: 'leaf', reason: { exit: 'nope' } } },
        },
      },
    });
    expect(system.count()).toBe(0);
  });
});

describe('nested supervisors escalate (a crash spreads through links)', () => {
  async function tree(midRestart: 'permanent' | 'transient', rootIntensity: number) {
    const { system } = testSystem();
    const rootLog = eventLog();
    const midLog = eventLog();
    const root = okRef(
      await Supervisor.start(system, {
        label: 'root',
        intensity: rootIntensity,
        children: [
          worker('sibling', testWorker(), 's'),
          supervisor(
            'mid',
            {
              label: 'mid',
              intensity: 1,
              children: [worker('leaf', testWorker(), 'leaf')],
              onEvent: midLog.onEvent,
            },
            { restart: midRestart },
          ),
        ],
        onEvent: rootLog.onEvent,
      }),
    );
    const mid = (await childrenInStartOrder(system, root))[1]!.ref as ActorRef;
    const crashLeaf = async () => {
      const current = (await childrenInStartOrder(system, root))[1]!.ref as ActorRef;
      const leaf = (await childrenInStartOrder(system, current))[0]!.ref as ActorRef;
      system.exit(leaf, { exit: 'leaf crash' });
      await flush();
      await flush();
    };
    return { system, root, mid, rootLog, midLog, crashLeaf };
  }

  it('a permanent child supervisor that exceeds its intensity is restarted by its parent', async () => {
    const { system, root, mid, rootLog, midLog, crashLeaf } = await tree('permanent', 1);
    await crashLeaf();
    await crashLeaf();
    expect(midLog.of('intensity_exceeded').length).toBe(1);
    expect(await system.whenExit(mid)).toBe('noproc'); // gone
    expect(rootLog.of('child_terminated')).toEqual([
      expect.objectContaining({ id: 'mid', ref: mid, reason: 'shutdown', action: 'restart' }),
    ]);
    const newMid = (await childrenInStartOrder(system, root))[1]!.ref as ActorRef;
    expect(system.isAlive(newMid)).toBe(true);
    expect((await Supervisor.countChildren(system, newMid)).active).toBe(1);
    await system.stop(root, 'shutdown');
    expect(system.count()).toBe(0);
  });

  it('a transient child supervisor that exceeds its intensity is not restarted (shutdown is clean)', async () => {
    const { system, root, crashLeaf, rootLog } = await tree('transient', 1);
    await crashLeaf();
    await crashLeaf();
    expect(await childrenInStartOrder(system, root)).toEqual([
      expect.objectContaining({ id: 'sibling' }),
      { id: 'mid', ref: undefined, type: 'supervisor' },
    ]);
    expect(rootLog.of('child_restarted')).toEqual([]);
    await system.stop(root, 'shutdown');
  });

  it('escalation reaches the top: the root exits with shutdown and the whole tree is gone', async () => {
    const { system, root, crashLeaf, rootLog } = await tree('permanent', 0);
    const exit = system.whenExit(root);
    await crashLeaf();
    await crashLeaf();
    expect(await exit).toBe('shutdown');
    expect(rootLog.of('intensity_exceeded')).toEqual([expect.objectContaining({ id: 'mid' })]);
    expect(system.count()).toBe(0);
  });
});
