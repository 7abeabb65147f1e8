// OTP exit-signal semantics (the Erlang reference manual, Processes chapter: the table of what an exit signal does).
import { describe, expect, it } from 'vitest';
import type { ActorRef, ExitMessage, ExitReason } from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

interface SignalRow {
  readonly name: string;
  readonly trapping: boolean;
  readonly reason: ExitReason;
  /** exit(ref, reason) sent directly, or the reason a linked actor died with. */
  readonly via: 'exit' | 'link';
  readonly expect:
    | { readonly alive: true; readonly exitMessage: boolean }
    | { readonly alive: false; readonly reason: ExitReason };
}

const rows: SignalRow[] = [
  {
    name: 'normal, not trapping, via exit/2: dropped',
    trapping: false,
    reason: 'normal',
    via: 'exit',
    expect: { alive: true, exitMessage: false },
  },
  {
    name: 'normal, not trapping, via link: dropped',
    trapping: false,
    reason: 'normal',
    via: 'link',
    expect: { alive: true, exitMessage: false },
  },
  {
    name: 'normal, trapping, via link: EXIT message',
    trapping: true,
    reason: 'normal',
    via: 'link',
    expect: { alive: true, exitMessage: true },
  },
  {
    name: 'normal, trapping, via exit/2: EXIT message',
    trapping: true,
    reason: 'normal',
    via: 'exit',
    expect: { alive: true, exitMessage: true },
  },
  {
    name: 'kill via exit/2, not trapping: killed',
    trapping: false,
    reason: 'kill',
    via: 'exit',
    expect: { alive: false, reason: 'killed' },
  },
  {
    name: 'kill via exit/2, trapping: cannot be trapped, killed',
    trapping: true,
    reason: 'kill',
    via: 'exit',
    expect: { alive: false, reason: 'killed' },
  },
  {
    name: 'shutdown, not trapping: dies with shutdown',
    trapping: false,
    reason: 'shutdown',
    via: 'exit',
    expect: { alive: false, reason: 'shutdown' },
  },
  {
    name: 'shutdown, trapping: EXIT message',
    trapping: true,
    reason: 'shutdown',
    via: 'exit',
    expect: { alive: true, exitMessage: true },
  },
  {
    name: '{error}, not trapping, via link: dies with the same reason',
    trapping: false,
    reason: { error: 'boom' },
    via: 'link',
    expect: { alive: false, reason: { error: 'boom' } },
  },
  {
    name: '{error}, trapping, via link: EXIT message',
    trapping: true,
    reason: { error: 'boom' },
    via: 'link',
    expect: { alive: true, exitMessage: true },
  },
  {
    name: 'killed (a linked actor was killed), not trapping: dies with killed',
    trapping: false,
    reason: 'killed',
    via: 'link',
    expect: { alive: false, reason: 'killed' },
  },
  {
    name: '{shutdown, x}, not trapping: dies with it',
    trapping: false,
    reason: { shutdown: 'x' },
    via: 'exit',
    expect: { alive: false, reason: { shutdown: 'x' } },
  },
];

describe("exit signals (the reference manual's table)", () => {
  it.each(rows)('$name', async (row) => {
    const { system } = testSystem();
    const receiver = await system.spawn(probe({ trapExit: row.trapping }), undefined);
    let sender: ActorRef | undefined;
    if (row.via === 'link') {
      sender = await system.spawn(probe(), undefined);
      await system.call(receiver, { type: 'link', to: sender });
      // The sender dies with `reason`; its links get the signal.
      if (row.reason === 'normal') await system.stop(sender, 'normal');
      else if (row.reason === 'killed') system.exit(sender, 'kill');
      else system.exit(sender, row.reason);
    } else {
      system.exit(receiver, row.reason);
    }
    await flush();
    if (row.expect.alive) {
      expect(system.isAlive(receiver)).toBe(true);
      const inbox = (await system.call(receiver, { type: 'inbox' })) as ExitMessage[];
      const exits = inbox.filter((m) => m.type === 'EXIT');
      expect(exits.length).toBe(row.expect.exitMessage ? 1 : 0);
      if (row.expect.exitMessage)
        expect(exits[0]!.reason).toEqual(row.reason === 'killed' ? 'killed' : row.reason);
    } else {
      expect(system.isAlive(receiver)).toBe(false);
      expect(await system.whenExit(receiver)).toBe('noproc'); // already gone
    }
  });

  it('a crash propagates through a chain of non-trapping links and stops at a trapping actor', async () => {
    const { system } = testSystem();
    const top = await system.spawn(probe({ trapExit: true }), undefined);
    const middle = await system.spawn(probe(), undefined);
    const leaf = await system.spawn(probe(), undefined);
    await system.call(top, { type: 'link', to: middle });
    await system.call(middle, { type: 'link', to: leaf });
    const middleExit = system.whenExit(middle);
    system.exit(leaf, { error: 'crash' });
    expect(await middleExit).toEqual({ error: 'crash' });
    await flush();
    const inbox = (await system.call(top, { type: 'inbox' })) as ExitMessage[];
    expect(inbox).toEqual([{ type: 'EXIT', from: middle, reason: { error: 'crash' } }]);
  });

  it('linking twice is one link: one EXIT message', async () => {
    const { system } = testSystem();
    const a = await system.spawn(probe({ trapExit: true }), undefined);
    const b = await system.spawn(probe(), undefined);
    await system.call(a, { type: 'link', to: b });
    await system.call(a, { type: 'link', to: b });
    system.exit(b, 'shutdown');
    await flush();
    expect(((await system.call(a, { type: 'inbox' })) as unknown[]).length).toBe(1);
  });

  it('linking to a dead actor sends noproc (EXIT when trapping)', async () => {
    const { system } = testSystem();
    const a = await system.spawn(probe({ trapExit: true }), undefined);
    const dead = await system.spawn(probe(), undefined);
    await system.stop(dead);
    await system.call(a, { type: 'link', to: dead });
    await flush();
    expect(await system.call(a, { type: 'inbox' })).toEqual([{ type: 'EXIT', from: dead, reason: 'noproc' }]);
  });

  it('a trapping gen_server stops with its parent exit reason and runs terminate (gen_server parent rule)', async () => {
    const { system } = testSystem();
    const terminated: ExitReason[] = [];
    const parent = await system.spawn(probe({ trapExit: true }), undefined);
    const child = await system.spawn(probe({ trapExit: true, terminated }), undefined, { link: parent });
    const done = system.whenExit(child);
    system.exit(parent, 'kill');
    expect(await done).toBe('killed');
    expect(terminated).toEqual(['killed']);
  });

  it('a non-trapping actor killed by a signal does not run terminate', async () => {
    const { system } = testSystem();
    const terminated: ExitReason[] = [];
    const actor = await system.spawn(probe({ terminated }), undefined);
    system.exit(actor, 'shutdown');
    expect(await system.whenExit(actor)).toBe('noproc');
    expect(terminated).toEqual([]);
  });

  it('a crash spreads through a chain of 20k links without growing the stack', async () => {
    const { system } = testSystem();
    const refs: ActorRef[] = [];
    for (let i = 0; i < 20_000; i++) refs.push(await system.spawn(probe(), undefined));
    for (let i = 1; i < refs.length; i++) system.link(refs[i - 1]!, refs[i]!);
    system.exit(refs[0]!, { error: 'chain' });
    expect(system.count()).toBe(0);
  });
});
