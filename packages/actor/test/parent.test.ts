// gen_server's `Parent` (gen:do_spawn/5, gen_server:init_it/6): a gen_server started with a link
// has its starter as parent; one started without a link is its own parent (do_spawn passes the
// atom `self`, init_it/6 turns it into self()). An {'EXIT', Parent, Reason} message — for a
// process that traps exits — is not given to handle_info: the server runs terminate(Reason) and
// exits with Reason. Any other EXIT goes to handle_info.
//
// Observed in Erlang/OTP 25 (`erl`, a trapping gen_server; handle_info and terminate print):
//   3a gen_server:start (no link), the server calls exit(self(), myreason) in handle_call
//        {terminate,p6,myreason}  ... {down,myreason}
//   3b gen_server:start (no link), another process calls exit(Pid, myreason)
//        {handle_info,p7,{'EXIT',<0.9.0>,myreason}}  {alive,true}
//   3c gen_server:start_link from P, the server calls exit(self(), myreason)
//        {handle_info,p8,{'EXIT',<0.111.0>,myreason}}   (self is not the parent: P is)
import { describe, expect, it } from 'vitest';
import type { ActorContext, ActorRef, ExitReason, GenServer } from '../src/index.ts';
import { flush, probe, testSystem } from './helpers.ts';

type Req = 'exit_self' | 'inbox';

function trapping(log: string[]): GenServer<string[], void, Req, unknown> {
  return {
    init(_args, ctx) {
      ctx.trapExit(true);
      return { ok: [] };
    },
    handleCall(req, _from, inbox, ctx: ActorContext) {
      if (req === 'exit_self') ctx.exit(ctx.self, { exit: 'myreason' });
      return { reply: req === 'inbox' ? [...inbox] : 'ok', state: inbox };
    },
    handleInfo(message, inbox) {
      const m = message as { type?: string; from?: ActorRef; reason?: ExitReason };
      log.push(`handle_info ${m.type} ${JSON.stringify(m.reason)}`);
      return { noreply: true, state: inbox };
    },
    terminate(reason) {
      log.push(`terminate ${JSON.stringify(reason)}`);
    },
  };
}

interface Row {
  readonly name: string;
  readonly otp: string;
  readonly linked: boolean;
  /** Who sends the exit signal: the server to itself, or another actor. */
  readonly from: 'self' | 'other';
  readonly expect: { readonly log: readonly string[]; readonly alive: boolean; readonly reason?: ExitReason };
}

const rows: Row[] = [
  {
    name: 'unlinked, exit(self, R): its own parent, terminate(R), exits R',
    otp: '3a',
    linked: false,
    from: 'self',
    expect: { log: ['terminate {"exit":"myreason"}'], alive: false, reason: { exit: 'myreason' } },
  },
  {
    name: 'unlinked, exit(Pid, R) from another actor: handle_info',
    otp: '3b',
    linked: false,
    from: 'other',
    expect: { log: ['handle_info EXIT {"exit":"myreason"}'], alive: true },
  },
  {
    name: 'linked, exit(self, R): the parent is the starter, so handle_info',
    otp: '3c',
    linked: true,
    from: 'self',
    expect: { log: ['handle_info EXIT {"exit":"myreason"}'], alive: true },
  },
];

describe("gen_server's Parent: an unlinked server is its own parent (gen:do_spawn/5)", () => {
  it.each(rows)('$name — OTP $otp', async (row) => {
    const { system } = testSystem();
    const log: string[] = [];
    const starter = await system.spawn(probe({ trapExit: true }), undefined);
    const ref = await system.spawn(trapping(log), undefined, row.linked ? { link: starter } : {});
    const exited = system.whenExit(ref);
    if (row.from === 'self') await system.call(ref, 'exit_self');
    else {
      const other = await system.spawn<null, void, 'go', unknown, never, never>(
        {
          init: () => ({ ok: null }),
          handleCall: (_r, _f, s, ctx) => {
            ctx.exit(ref, { exit: 'myreason' });
            return { reply: 'ok', state: s };
          },
        },
        undefined,
      );
      await system.call(other, 'go');
    }
    for (let turn = 0; turn < 10 && log.length === 0; turn++) await flush();
    expect(log).toEqual(row.expect.log);
    expect(system.isAlive(ref)).toBe(row.expect.alive);
    if (!row.expect.alive) expect(await exited).toEqual(row.expect.reason);
    expect(system.isAlive(starter)).toBe(true);
  });
});
