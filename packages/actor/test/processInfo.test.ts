// erlang:process_info(Pid, [registered_name, message_queue_len]) as an observer reads it, and the
// longest mailbox of the node in one pass.
import { describe, expect, it } from 'vitest';
import { ActorSystem, type GenServer, silentLogger } from '../src/index.ts';

/** Its first cast holds the mailbox until `release` (an async callback in flight); the rest wait. */
function holding(held: Promise<void>): GenServer<null, void, never, unknown, 'work'> {
  return {
    init: () => ({ ok: null }),
    handleCast: (_m, state) => held.then(() => ({ noreply: true, state })),
  };
}

describe('ActorSystem.processInfo and longestMailbox', () => {
  it('reports the name, mailbox length, parent and trapping of a live actor; nothing for a dead one', async () => {
    const system = new ActorSystem({ logger: silentLogger });
    expect(system.longestMailbox()).toBeUndefined();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const named = await system.spawn(holding(held), undefined, { name: 'busy', trapExit: true });
    const other = await system.spawn(holding(held), undefined, { link: named });
    expect(system.processInfo(named)).toEqual({
      ref: named,
      registeredName: 'busy',
      messageQueueLength: 0,
      status: 'running',
      parent: undefined,
      trapExit: true,
    });
    expect(system.processInfo(other)).toMatchObject({
      registeredName: undefined,
      parent: named,
      trapExit: false,
    });
    for (let i = 0; i < 4; i++) system.cast(named, 'work');
    for (let i = 0; i < 2; i++) system.cast(other, 'work');
    await Promise.resolve();
    expect(system.processInfo(named)?.messageQueueLength).toBe(3); // the first one is being handled
    expect(system.processInfo(other)?.messageQueueLength).toBe(1);
    expect(system.longestMailbox()).toEqual({ ref: named, length: 3 });
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(system.longestMailbox()?.length).toBe(0);
    await system.stop(other);
    expect(system.processInfo(other)).toBeUndefined();
  });
});
