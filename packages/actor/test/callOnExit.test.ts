// gen_server:call when the server ends first (gen:do_call/4): the caller monitors the server and,
// as soon as the DOWN arrives, exits with the server's exit reason — whatever the call's timeout,
// `infinity` included, and for every caller: the one being handled, those answered later
// (`noreply`) and those still queued in the mailbox. Here: `ExitError { reason }` at once.
//
// Observed in Erlang/OTP 25 (`erl`; each caller a spawned process running
// `try gen_server:call(S, Req, T) catch exit:{Reason, _} -> {exit, Reason} end`):
//
//   1a handle_call(stop_noreply) -> {stop, bye, S}, T = infinity
//        {terminate,p1,bye}  {call_result,stop_noreply,{exit,bye}}
//   1b slow (100 ms) | stop_noreply | ping (infinity) | ping (5000), queued in that order
//        {terminate,p2,bye}  {call_result,slow,slow_done}  {call_result,stop_noreply,{exit,bye}}
//        {call_result,ping,{exit,bye}}  {call_result,ping,{exit,bye}}
//   1c handle_call(noreply) -> {noreply, S}, then exit(S, kill)
//        {call_result,noreply,{exit,killed}}
//   1d slow | crash (error(boom)) | ping
//        {terminate,p4,{boom,Stack}}  {call_result,slow,slow_done}
//        {call_result,crash,{exit,{boom,Stack}}}  {call_result,ping,{exit,{boom,Stack}}}
//   1e handle_call(stop_normal_noreply) -> {stop, normal, S}
//        {terminate,p5,normal}  {call_result,stop_normal_noreply,{exit,normal}}
//
// "At once" is checked without time: the clock is simulated and never advanced, every call but
// one has an infinite timeout, and the outcome must be known after a bounded number of turns.
//
// The same table runs with the caller on another node (the loopback carrier between two systems):
// a remote call is served through the same list of pending calls, and its caller gets the exit
// reason as soon as the callFailed signal crosses back — never after its timeout.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActorRef,
  type ActorSystem,
  CallTimeoutError,
  ExitError,
  type ExitReason,
  type GenServer,
  type SimulatedClock,
} from '../src/index.ts';
import { type LoopbackCluster, loopbackCluster, testSystem as nodeSystem } from '../src/testing/index.ts';
import { flush, testSystem } from './helpers.ts';

type Req =
  | 'ping'
  | 'slow'
  | 'noreply'
  | 'stop_noreply'
  | 'stop_normal_noreply'
  | 'stop_noreply_async'
  | 'crash'
  | 'async_crash'
  | 'hang';
type Cast = { readonly stop: ExitReason } | 'release';

interface Gate {
  release(): void;
  readonly promise: Promise<void>;
}
function gate(): Gate {
  let release!: () => void;
  const promise = new Promise<void>((r) => {
    release = r;
  });
  return { release, promise };
}

/** The scenario server: `log` records terminate as OTP's `{terminate, S, R}` lines. */
function server(
  log: string[],
  slow: Gate,
  options: { asyncTerminate?: Gate } = {},
): GenServer<null, void, Req, unknown, Cast> {
  return {
    init: () => ({ ok: null }),
    async handleCall(req, _from, s) {
      switch (req) {
        case 'ping':
          return { reply: 'pong', state: s };
        case 'slow':
          await slow.promise;
          return { reply: 'slow_done', state: s };
        case 'noreply':
          return { noreply: true, state: s };
        case 'stop_noreply':
          return { stop: { exit: 'bye' }, state: s };
        case 'stop_normal_noreply':
          return { stop: 'normal', state: s };
        case 'stop_noreply_async':
          await flush();
          return { stop: { exit: 'bye' }, state: s };
        case 'crash':
          throw new Error('boom');
        case 'async_crash':
          await flush();
          throw new Error('async boom');
        case 'hang':
          return new Promise(() => {});
      }
    },
    handleCast(msg, s) {
      if (msg === 'release') return { noreply: true, state: s };
      return { stop: msg.stop, state: s };
    },
    terminate(reason) {
      log.push(`terminate ${fmt(reason)}`);
      return options.asyncTerminate?.promise;
    },
  };
}

function fmt(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if ('error' in reason) return `{error,${(reason.error as Error).message}}`;
  if ('exit' in reason) return `{exit,${String(reason.exit)}}`;
  return JSON.stringify(reason);
}

type Outcome = string;

/** How a call ended, as OTP's `{call_result, Req, R}` lines: `Req ok V`, `Req exit R`, `Req timeout`. */
function track(req: Req, p: Promise<unknown>, log: string[]): void {
  p.then(
    (v) => log.push(`${req} ok ${String(v)}`),
    (e: unknown) => {
      if (e instanceof ExitError) log.push(`${req} exit ${fmt(e.reason)}`);
      else if (e instanceof CallTimeoutError) log.push(`${req} timeout`);
      else log.push(`${req} other ${String(e)}`);
    },
  );
}

interface Row {
  readonly name: string;
  /** What OTP does, from the run above. */
  readonly otp: string;
  readonly asyncTerminate?: boolean;
  /** Sends the calls (and whatever else) to `ref`; returns when they are all delivered. */
  readonly drive: (ctx: {
    /** The server's system. */
    system: ActorSystem;
    ref: ActorRef;
    call: (req: Req, timeoutMs?: number) => void;
    /** One turn, and every signal between the nodes delivered. */
    settle: () => Promise<void>;
    slow: Gate;
    terminate: Gate;
  }) => Promise<void>;
  /** The event log once everything settled, in order. */
  readonly expect: readonly Outcome[];
}

const rows: Row[] = [
  {
    name: '{ stop } without reply, infinite timeout',
    otp: '1a: terminate(bye), then the caller exits with bye',
    drive: async ({ call }) => call('stop_noreply', Number.POSITIVE_INFINITY),
    expect: ['terminate {exit,bye}', 'stop_noreply exit {exit,bye}'],
  },
  {
    name: "{ stop: 'normal' } without reply",
    otp: '1e: terminate(normal), then the caller exits with normal',
    drive: async ({ call }) => call('stop_normal_noreply'),
    expect: ['terminate normal', 'stop_normal_noreply exit normal'],
  },
  {
    name: '{ stop } without reply from an async handleCall',
    otp: '1a (a handler that awaits first is the same callback returning later)',
    drive: async ({ call }) => call('stop_noreply_async', Number.POSITIVE_INFINITY),
    expect: ['terminate {exit,bye}', 'stop_noreply_async exit {exit,bye}'],
  },
  {
    name: 'calls queued in the mailbox behind a { stop } without reply',
    otp: '1b: the slow call is answered; the stopping call and both queued pings exit with bye',
    drive: async ({ call, slow, settle }) => {
      call('slow', Number.POSITIVE_INFINITY);
      call('stop_noreply', Number.POSITIVE_INFINITY);
      call('ping', Number.POSITIVE_INFINITY);
      call('ping', 5000);
      await settle();
      slow.release();
    },
    expect: [
      'slow ok slow_done',
      'terminate {exit,bye}',
      'stop_noreply exit {exit,bye}',
      'ping exit {exit,bye}',
      'ping exit {exit,bye}',
    ],
  },
  {
    name: 'a noreply call, then kill',
    otp: '1c: the caller exits with killed',
    drive: async ({ system, ref, call, settle }) => {
      call('noreply', Number.POSITIVE_INFINITY);
      await settle();
      system.exit(ref, 'kill');
    },
    expect: ['noreply exit killed'],
  },
  {
    name: 'kill while an async handleCall is running, a call queued behind it',
    otp: '1c (exit(S, kill) ends the server whatever it is doing; every monitor fires)',
    drive: async ({ system, ref, call, settle }) => {
      call('hang', Number.POSITIVE_INFINITY);
      call('ping', Number.POSITIVE_INFINITY);
      await settle();
      system.exit(ref, 'kill');
    },
    expect: ['hang exit killed', 'ping exit killed'],
  },
  {
    name: 'a crash in handleCall, a call queued behind it',
    otp: '1d: terminate({boom, Stack}); the crashing call and the queued ping exit with it',
    drive: async ({ call, slow, settle }) => {
      call('slow', Number.POSITIVE_INFINITY);
      call('crash', Number.POSITIVE_INFINITY);
      call('ping', Number.POSITIVE_INFINITY);
      await settle();
      slow.release();
    },
    expect: [
      'slow ok slow_done',
      'terminate {error,boom}',
      'crash exit {error,boom}',
      'ping exit {error,boom}',
    ],
  },
  {
    name: 'a rejection in an async handleCall, a call queued behind it',
    otp: '1d (a crash after the handler awaited is still a crash of the callback)',
    drive: async ({ call }) => {
      call('async_crash', Number.POSITIVE_INFINITY);
      call('ping', Number.POSITIVE_INFINITY);
    },
    expect: [
      'terminate {error,async boom}',
      'async_crash exit {error,async boom}',
      'ping exit {error,async boom}',
    ],
  },
  {
    name: 'a noreply call, then a cast returns { stop }',
    otp: '1c with a stop instead of a kill: terminate(R), then the caller exits with R',
    drive: async ({ system, ref, call, settle }) => {
      call('noreply', Number.POSITIVE_INFINITY);
      await settle(); // the call is in (from another node it crosses first)
      system.cast(ref, { stop: 'shutdown' });
    },
    expect: ['terminate shutdown', 'noreply exit shutdown'],
  },
  {
    name: 'calls that arrive while an async terminate runs fail when it ends',
    otp: 'gen:do_call monitors a live process; its DOWN comes when terminate/2 has returned',
    asyncTerminate: true,
    drive: async ({ call, terminate, settle }) => {
      call('stop_noreply', Number.POSITIVE_INFINITY);
      await settle();
      call('ping', Number.POSITIVE_INFINITY);
      await settle();
      terminate.release();
    },
    expect: ['terminate {exit,bye}', 'stop_noreply exit {exit,bye}', 'ping exit {exit,bye}'],
  },
  {
    name: 'a kill during an async terminate fails the waiting calls with killed',
    otp: 'exit(S, kill) during terminate/2: the DOWN carries killed',
    asyncTerminate: true,
    drive: async ({ system, ref, call, settle }) => {
      call('stop_noreply', Number.POSITIVE_INFINITY);
      await settle();
      call('ping', Number.POSITIVE_INFINITY);
      await settle();
      system.exit(ref, 'kill');
    },
    expect: ['terminate {exit,bye}', 'stop_noreply exit killed', 'ping exit killed'],
  },
];

function sortExitRuns(lines: readonly string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  for (const line of [...lines, '']) {
    if (line.includes(' exit ')) run.push(line);
    else {
      out.push(...run.sort());
      run = [];
      if (line !== '') out.push(line);
    }
  }
  return out;
}

interface Nodes {
  /** The caller's system and the server's (the same one for a local call). */
  readonly caller: ActorSystem;
  readonly server: ActorSystem;
  readonly clocks: readonly SimulatedClock[];
  readonly settle: () => Promise<void>;
  /**
   * What is compared: the whole log in order on one node; across nodes, what the server did and
   * what the callers got, each in order (an answer crosses back after the server has gone on).
   */
  readonly view: (log: readonly string[]) => unknown;
}

const isTerminate = (line: string) => line.startsWith('terminate');

let net: LoopbackCluster | undefined;
afterEach(() => {
  net?.close();
  net = undefined;
});

const WHERE: ReadonlyArray<readonly [string, () => Nodes]> = [
  [
    'a local call',
    () => {
      const { system, clock } = testSystem();
      return { caller: system, server: system, clocks: [clock], settle: flush, view: sortExitRuns };
    },
  ],
  [
    'a call from another node',
    () => {
      const a = nodeSystem('a@host');
      const b = nodeSystem('b@host');
      const cluster = loopbackCluster([a.system, b.system]);
      net = cluster;
      return {
        caller: a.system,
        server: b.system,
        clocks: [a.clock, b.clock],
        settle: async () => {
          await cluster.settled();
          await flush();
        },
        view: (log: readonly string[]) => ({
          server: log.filter(isTerminate),
          callers: sortExitRuns(log.filter((l) => !isTerminate(l))),
        }),
      };
    },
  ],
];

describe.each(WHERE)(
  'a call to a server that ends fails at once with its exit reason (gen:do_call/4): %s',
  (_where, nodes) => {
    it.each(rows)('$name — OTP $otp', async (row) => {
      const { caller, server: system, clocks, settle, view } = nodes();
      const log: string[] = [];
      const slow = gate();
      const terminate = gate();
      const ref = await system.spawn(
        server(log, slow, row.asyncTerminate ? { asyncTerminate: terminate } : {}),
        undefined,
      );
      let sent = 0;
      const call = (req: Req, timeoutMs?: number) => {
        sent++;
        track(req, caller.call(ref, req, timeoutMs), log);
      };
      await row.drive({ system, ref, call, settle, slow, terminate });
      // Bounded: every call must be settled within a few turns, without the clock moving.
      const calls = () => log.filter((l) => !isTerminate(l)).length;
      for (let turn = 0; turn < 20 && calls() < sent; turn++) await settle();
      for (const clock of clocks) expect(clock.now()).toBe(0);
      // Callers are separate processes in OTP: the order in which several of them learn of one
      // exit is not defined, so consecutive failures compare as a set.
      expect(view(log), `calls still pending after 20 turns: ${sent - calls()} of ${sent}`).toEqual(
        view(row.expect),
      );
      expect(system.isAlive(ref)).toBe(false);
    });
  },
);
