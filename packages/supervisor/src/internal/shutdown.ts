import type { ActorContext, ActorRef, ExitReason } from '@otp-chat/actor';
import type { NormalizedChildSpec } from '../ChildSpec.ts';

/** How a child stopped by its supervisor ended. */
export interface ShutdownOutcome {
  readonly reason: ExitReason;
  /** The shutdown timeout expired and the child was killed. */
  readonly killed: boolean;
}

const TIMEOUT = Symbol('timeout');

/**
 * Stops one child as `supervisor:shutdown/1` does: `brutal_kill` sends `kill`; otherwise
 * `shutdown` is sent and the supervisor waits for the child's end up to `shutdown` ms on the
 * system clock, then sends `kill`; `infinity` waits for ever.
 *
 * OTP monitors the child rather than waiting for its `EXIT`, so that a child that unlinked
 * cannot hang the supervisor. A JS handler cannot do a selective receive (the supervisor's mailbox
 * is held while it waits), so the monitor here is `system.whenExit(ref)`: the same one-way
 * notification, delivered to the waiting code instead of the mailbox. The `EXIT` that the link
 * still produces arrives later and is ignored, its ref being no longer a child's.
 */
export async function shutdownChild(
  ctx: ActorContext,
  ref: ActorRef,
  spec: NormalizedChildSpec,
): Promise<ShutdownOutcome> {
  const system = ctx.system;
  // Already dead (its EXIT is still in our mailbox): nothing to stop.
  if (!system.isAlive(ref)) return { reason: 'noproc', killed: false };
  const exited = system.whenExit(ref);
  if (spec.shutdown === 'brutal_kill') {
    ctx.exit(ref, 'kill');
    return { reason: await exited, killed: false };
  }
  ctx.exit(ref, 'shutdown');
  if (spec.shutdown === 'infinity') return { reason: await exited, killed: false };
  return raceKill(ctx, [ref], [exited], spec.shutdown).then(([outcome]) => outcome!);
}

/**
 * Stops many children of one template in parallel under one shared timer
 * (`terminate_dynamic_children/1`): all get `shutdown` (or `kill`) at once, in no defined order.
 * Answers one outcome per ref, in the order of `refs`.
 */
export async function shutdownChildren(
  ctx: ActorContext,
  refs: readonly ActorRef[],
  spec: NormalizedChildSpec,
): Promise<ShutdownOutcome[]> {
  const system = ctx.system;
  const alive = refs.filter((ref) => system.isAlive(ref));
  const exited = alive.map((ref) => system.whenExit(ref));
  const signal: ExitReason = spec.shutdown === 'brutal_kill' ? 'kill' : 'shutdown';
  for (const ref of alive) ctx.exit(ref, signal);
  const outcomes =
    spec.shutdown === 'brutal_kill' || spec.shutdown === 'infinity'
      ? (await Promise.all(exited)).map((reason) => ({ reason, killed: false }))
      : await raceKill(ctx, alive, exited, spec.shutdown);
  if (alive.length === refs.length) return outcomes;
  // One outcome per ref, in order: a child already dead (its EXIT still in our mailbox) is noproc.
  let next = 0;
  return refs.map((ref) =>
    ref === alive[next] ? outcomes[next++]! : { reason: 'noproc' as const, killed: false },
  );
}

/** Waits for every `exited` up to `ms`, then kills the ones still alive and waits for them. */
async function raceKill(
  ctx: ActorContext,
  refs: readonly ActorRef[],
  exited: readonly Promise<ExitReason>[],
  ms: number,
): Promise<ShutdownOutcome[]> {
  const clock = ctx.system.clock;
  let timer: unknown;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = clock.setTimeout(() => resolve(TIMEOUT), ms);
  });
  const done = new Array<ExitReason | undefined>(refs.length);
  const all = Promise.all(
    exited.map((p, i) =>
      p.then((reason) => {
        done[i] = reason;
      }),
    ),
  );
  const first = await Promise.race([all, timeout]);
  if (first !== TIMEOUT) {
    clock.clearTimeout(timer);
    return done.map((reason) => ({ reason: reason!, killed: false }));
  }
  const killed = refs.map((ref, i) => {
    if (done[i] !== undefined) return false;
    ctx.exit(ref, 'kill');
    return true;
  });
  const reasons = await Promise.all(exited);
  return reasons.map((reason, i) => ({ reason, killed: killed[i]! }));
}

/**
 * Whether a stopped child's exit reason is the expected one (else OTP reports `shutdown_error`):
 * `shutdown` always; `normal` and `{ shutdown }` for non-permanent children; `killed` after
 * `brutal_kill`. `noproc` (the child was already gone) is accepted too.
 */
export function isExpectedShutdown(spec: NormalizedChildSpec, outcome: ShutdownOutcome): boolean {
  const reason = outcome.reason;
  if (reason === 'shutdown' || reason === 'noproc') return true;
  if (reason === 'killed') return spec.shutdown === 'brutal_kill';
  if (spec.restart === 'permanent') return false;
  return reason === 'normal' || (typeof reason === 'object' && 'shutdown' in reason);
}
