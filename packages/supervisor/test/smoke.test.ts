import { describe, expect, it } from 'vitest';
import { Supervisor, worker } from '../src/index.ts';
import { eventLog, okRef, testSystem, testWorker } from './helpers.ts';

describe('smoke', () => {
  it('restarts a crashed child', async () => {
    const { system } = testSystem();
    const log = eventLog();
    const sup = okRef(
      await Supervisor.start(system, {
        children: [worker('a', testWorker(), 1), worker('b', testWorker(), 2)],
        onEvent: log.onEvent,
      }),
    );
    const before = await Supervisor.whichChildren(system, sup);
    system.exit(before[0]!.ref as never, { exit: 'boom' });
    const after = await Supervisor.whichChildren(system, sup);
    expect(after[0]!.ref).not.toEqual(before[0]!.ref);
    expect(log.types()).toContain('child_restarted');
    await system.stop(sup, 'shutdown');
    expect(system.count()).toBe(0);
  });
});
