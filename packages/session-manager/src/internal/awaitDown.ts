import type {
  ActorContext,
  ActorRef,
  ActorSystem,
  DownMessage,
  GenServer,
  TimerHandle,
} from '@otp-chat/actor';

interface WaitArgs {
  readonly refs: readonly ActorRef[];
  readonly timeoutMs: number;
  readonly done: () => void;
}

interface WaitState {
  readonly pending: Set<number>;
  readonly done: () => void;
  timer: TimerHandle | undefined;
}

type WaitInfo = 'timeout' | 'check';

/**
 * A short-lived actor that monitors `refs` and ends when each is `DOWN` or the deadline passes:
 * ejabberd's `ejabberd_sm:wait_for_replaced_termination/2`, which runs as a blocking receive in
 * the new c2s process. Here the waiting connection awaits a promise instead; only the `DOWN`s of
 * the monitored refs count (ejabberd's loop also swallows unrelated `DOWN`s: not reproduced).
 */
const waiter: GenServer<WaitState, WaitArgs, never, unknown, never, WaitInfo> = {
  init(args: WaitArgs, ctx: ActorContext) {
    const pending = new Set<number>();
    for (const ref of args.refs) pending.add(ctx.monitor(ref).monitorId);
    const state: WaitState = { pending, done: args.done, timer: undefined };
    state.timer = ctx.system.clock.setTimeout(() => ctx.send(ctx.self, 'timeout'), args.timeoutMs);
    ctx.send(ctx.self, 'check');
    return { ok: state };
  },
  handleInfo(message, state) {
    if (message === 'timeout') return { stop: 'normal', state };
    if (message !== 'check') state.pending.delete((message as DownMessage).ref.monitorId);
    return state.pending.size === 0 ? { stop: 'normal', state } : { noreply: true, state };
  },
  terminate(_reason, state, ctx) {
    if (state.timer !== undefined) ctx.system.clock.clearTimeout(state.timer);
    state.done();
  },
};

/** Resolves once every ref has ended, or after `timeoutMs` on the system's clock. */
export function awaitDown(system: ActorSystem, refs: readonly ActorRef[], timeoutMs: number): Promise<void> {
  if (refs.length === 0 || timeoutMs <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    void system.start(waiter, { refs, timeoutMs, done: resolve }).then((r) => {
      if (r === 'ignore' || 'error' in r) resolve();
    });
  });
}
