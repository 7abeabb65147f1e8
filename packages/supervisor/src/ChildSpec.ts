import type { ActorContext, ActorName, GenServer, StartResult } from '@otp-chat/actor';
import { DEFAULTS } from './DEFAULTS.ts';
import { InvalidChildSpecError } from './errors.ts';

/**
 * When a child is restarted (OTP's `restart`):
 * - `permanent`: always;
 * - `transient`: only if it ended with a reason other than `normal`, `shutdown` or `{ shutdown }`;
 * - `temporary`: never, and its spec is forgotten when it ends.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped (OTP's `shutdown`): `'brutal_kill'` sends an untrappable `kill`; a number
 * of ms sends `shutdown`, waits that long for the child to end, then kills it; `'infinity'` waits
 * for ever. JavaScript cannot pre-empt a running handler: a kill stops delivery and skips
 * `terminate`, but a CPU-bound handler already running is not interrupted.
 */
export type ShutdownSpec = 'brutal_kill' | 'infinity' | number;

/** `worker` or `supervisor` (OTP's `type`); decides the default `shutdown`. */
export type ChildType = 'worker' | 'supervisor';

/**
 * The child's start function: OTP's `{M, F, A}`. It runs inside the supervisor and must **create
 * and link** the child (use `ctx.start(behaviour, args, { link: true })`), resolving with the
 * actor's {@link StartResult}. For a `simple_one_for_one` template, `extraArgs` is what
 * `startChild(sup, extraArgs)` was given (OTP's `A ++ ExtraArgs`); otherwise it is `undefined`.
 * A throw or rejection counts as `{ error: { error: thrown } }`.
 */
export type StartFunction = (ctx: ActorContext, extraArgs: unknown) => Promise<StartResult> | StartResult;

/** A child specification (OTP's `child_spec()` map). */
export interface ChildSpec {
  /** Identifies the child inside its supervisor; unique there. Mandatory. */
  readonly id: string;
  /** Creates and links the child. Mandatory. */
  readonly start: StartFunction;
  /** @default 'permanent' */
  readonly restart?: RestartType;
  /** @default 5000 for workers, 'infinity' for supervisors */
  readonly shutdown?: ShutdownSpec;
  /** @default 'worker' */
  readonly type?: ChildType;
  /**
   * The child's own exit may trigger the supervisor's `autoShutdown`. Not allowed with
   * `permanent` nor when `autoShutdown` is `'never'` (OTP's `bad_combination`). @default false
   */
  readonly significant?: boolean;
}

/** A child spec with every default filled in. */
export interface NormalizedChildSpec {
  readonly id: string;
  readonly start: StartFunction;
  readonly restart: RestartType;
  readonly shutdown: ShutdownSpec;
  readonly type: ChildType;
  readonly significant: boolean;
}

/** The supervisor's `autoShutdown` flag (OTP 24+). */
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary'];
const TYPES: readonly string[] = ['worker', 'supervisor'];

/**
 * Validates a child spec and fills in its defaults (OTP's `check_childspec/2`). Throws
 * {@link InvalidChildSpecError} naming the first invalid field.
 */
export function checkChildSpec(spec: unknown, autoShutdown: AutoShutdown = 'never'): NormalizedChildSpec {
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidChildSpecError('spec', spec, undefined, 'a child spec must be an object');
  }
  const s = spec as Partial<Record<keyof ChildSpec, unknown>>;
  if (typeof s.id !== 'string' || s.id.length === 0) {
    throw new InvalidChildSpecError('id', s.id, undefined, 'mandatory, a non-empty string');
  }
  const id = s.id;
  if (typeof s.start !== 'function') {
    throw new InvalidChildSpecError(
      'start',
      s.start,
      id,
      'mandatory, a function (ctx, extraArgs) => StartResult',
    );
  }
  const restart = s.restart ?? DEFAULTS.restart;
  if (typeof restart !== 'string' || !RESTARTS.includes(restart)) {
    throw new InvalidChildSpecError('restart', restart, id, "one of 'permanent', 'transient', 'temporary'");
  }
  const type = s.type ?? DEFAULTS.type;
  if (typeof type !== 'string' || !TYPES.includes(type)) {
    throw new InvalidChildSpecError('type', type, id, "one of 'worker', 'supervisor'");
  }
  const shutdown =
    s.shutdown ?? (type === 'supervisor' ? DEFAULTS.supervisorShutdown : DEFAULTS.workerShutdownMs);
  if (
    !(
      shutdown === 'brutal_kill' ||
      shutdown === 'infinity' ||
      (typeof shutdown === 'number' && Number.isInteger(shutdown) && shutdown >= 0)
    )
  ) {
    throw new InvalidChildSpecError(
      'shutdown',
      shutdown,
      id,
      "'brutal_kill', 'infinity' or an integer number of ms >= 0",
    );
  }
  const significant = s.significant ?? DEFAULTS.significant;
  if (typeof significant !== 'boolean') {
    throw new InvalidChildSpecError('significant', significant, id, 'a boolean');
  }
  if (significant && (restart === 'permanent' || autoShutdown === 'never')) {
    throw new InvalidChildSpecError(
      'significant',
      significant,
      id,
      `bad combination: significant with restart '${restart}' and autoShutdown '${autoShutdown}'`,
    );
  }
  return {
    id,
    start: s.start as StartFunction,
    restart: restart as RestartType,
    shutdown: shutdown as ShutdownSpec,
    type: type as ChildType,
    significant,
  };
}

/** Options of {@link worker} and {@link dynamicWorker}: the child spec fields plus a registered name. */
export interface WorkerOptions {
  /** @default 'permanent' */
  readonly restart?: RestartType;
  /** @default 5000 */
  readonly shutdown?: ShutdownSpec;
  /** @default false */
  readonly significant?: boolean;
  /** Register the child under this name. */
  readonly name?: ActorName;
  /** Start the child with `trap_exit` set, so a supervisor shutdown runs its `terminate`. @default false */
  readonly trapExit?: boolean;
}

/**
 * A child spec for a GenServer worker in one line: `start` runs
 * `ctx.start(behaviour, args, { link: true })` (OTP's `{M, start_link, Args}`).
 *
 * @example
 * ```ts
 * const spec = worker('cache', cacheServer, { size: 100 }, { restart: 'transient' });
 * ```
 */
export function worker<S, A, C, R, K, I>(
  id: string,
  behaviour: GenServer<S, A, C, R, K, I>,
  args: A,
  options: WorkerOptions = {},
): ChildSpec {
  return dynamicWorker(id, behaviour, () => args, options);
}

/**
 * A child spec whose arguments are built from `startChild`'s `extraArgs`: the template of a
 * `simple_one_for_one` supervisor (OTP's `A ++ ExtraArgs`).
 *
 * @example
 * ```ts
 * const template = dynamicWorker('conn', connServer, (socketId: unknown) => ({ socketId: String(socketId) }));
 * ```
 */
export function dynamicWorker<S, A, C, R, K, I>(
  id: string,
  behaviour: GenServer<S, A, C, R, K, I>,
  args: (extraArgs: unknown) => A,
  options: WorkerOptions = {},
): ChildSpec {
  const spawn: { link: true; name?: ActorName; trapExit?: boolean } = {
    link: true,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.trapExit === undefined ? {} : { trapExit: options.trapExit }),
  };
  return {
    id,
    start: (ctx, extraArgs) => ctx.start(behaviour, args(extraArgs), spawn),
    type: 'worker',
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.shutdown === undefined ? {} : { shutdown: options.shutdown }),
    ...(options.significant === undefined ? {} : { significant: options.significant }),
  };
}
