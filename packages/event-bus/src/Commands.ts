import { z } from 'zod';
import { type Caller, type CommandPolicy, policyAdmits } from './Caller.ts';
import {
  AccessDeniedError,
  type ArgumentIssue,
  DuplicateCommandError,
  InvalidArgumentsError,
  InvalidResultError,
  UnknownCommandError,
} from './CommandError.ts';
import type { AnyCommandSpec, CommandCallArgs, CommandMap, CommandSpec } from './CommandSpec.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import type { EventBus } from './EventBus.ts';
import type { Hooks } from './Hooks.ts';

/** A registered command as `get` and `list` report it (defaults applied). */
export interface CommandInfo {
  readonly name: string;
  readonly version: number;
  /** The spec's tags, plus `v<version>` when the version is not 0. */
  readonly tags: readonly string[];
  readonly description: string;
  readonly longDescription: string;
  readonly note: string;
  readonly policy: CommandPolicy;
  /** The argument schema as executed: for policy `user`, extended with `user` and `host`. */
  readonly args: z.ZodObject;
  readonly result: z.ZodType;
  /** Who registered it (ejabberd's `definer`). */
  readonly definer: string;
  readonly spec: AnyCommandSpec;
}

/** Options of `new Commands()`. */
export interface CommandsOptions {
  /** Where the global `api_call` hook is run before each command (`ejabberd_commands:execute_command2/4`). @default none */
  readonly hooks?: Hooks;
  /** Where `command_executed` is emitted. @default none */
  readonly events?: EventBus;
}

/** Options of `Commands.register`. */
export interface RegisterOptions {
  /** Recorded as `CommandInfo.definer`. @default 'unknown' (as ejabberd) */
  readonly definer?: string;
}

const USER_ARGS = { user: z.string().min(1), host: z.string().min(1) };

function toIssues(error: z.ZodError): ArgumentIssue[] {
  return error.issues.map((i) => ({ path: i.path.map((p) => String(p)).join('.'), message: i.message }));
}

/**
 * The command registry and its in-process entry point (`ejabberd_commands`). Front
 * ends (CLI, HTTP) come later and call `execute`.
 */
export class Commands {
  /** Versions of each name, ascending. */
  private readonly byName = new Map<string, CommandInfo[]>();
  private readonly hooks: Hooks | undefined;
  private readonly events: EventBus | undefined;

  constructor(options: CommandsOptions = {}) {
    this.hooks = options.hooks;
    this.events = options.events;
  }

  /**
   * Registers commands. A name that is already registered is refused with
   * `DuplicateCommandError` and nothing from this call is registered; several versions of one
   * name in the same call are accepted, as in ejabberd.
   */
  register(specs: AnyCommandSpec | readonly AnyCommandSpec[], options: RegisterOptions = {}): void {
    const list: readonly AnyCommandSpec[] = Array.isArray(specs) ? specs : [specs as AnyCommandSpec];
    const seen = new Set<string>();
    for (const spec of list) {
      const version = spec.version ?? DEFAULTS.commandVersion;
      const key = `${spec.name}\u0000${version}`;
      if (this.byName.has(spec.name) || seen.has(key)) throw new DuplicateCommandError(spec.name, version);
      seen.add(key);
    }
    for (const spec of list) {
      const info = prepare(spec, options.definer ?? 'unknown');
      const versions = this.byName.get(spec.name) ?? [];
      versions.push(info);
      versions.sort((a, b) => a.version - b.version);
      this.byName.set(spec.name, versions);
    }
  }

  /** Removes every version of `name` (as ejabberd's `unregister_commands`). False when unknown. */
  unregister(name: string): boolean {
    return this.byName.delete(name);
  }

  /** Every registered command version, by name then version. */
  list(): readonly CommandInfo[] {
    return [...this.byName.keys()].sort().flatMap((name) => this.byName.get(name)!);
  }

  /**
   * The highest version of `name` that is ≤ `version` (`get_command_definition`).
   * @throws UnknownCommandError
   */
  get(name: string, version: number = DEFAULTS.latestCommandVersion): CommandInfo {
    const versions = this.byName.get(name);
    if (versions !== undefined) {
      for (let i = versions.length - 1; i >= 0; i--) {
        const info = versions[i]!;
        if (info.version <= version) return info;
      }
    }
    throw new UnknownCommandError(name, version);
  }

  /**
   * Executes a command for `caller` (`execute_command2`): looks it up (`UnknownCommandError`),
   * checks the policy (`AccessDeniedError`, nothing executed), validates the arguments
   * (`InvalidArgumentsError` naming each bad field), runs the global `api_call` hook, calls the
   * handler and parses its result (`InvalidResultError`). Errors thrown by the handler propagate
   * unchanged. Emits `command_executed` in every case.
   *
   * The first argument is a name (typed through `CommandMap`) or the spec itself (typed by it).
   */
  execute<K extends keyof CommandMap & string>(
    name: K,
    args: CommandMap[K] extends { args: infer A } ? A : never,
    caller: Caller,
    version?: number,
  ): Promise<CommandMap[K] extends { result: infer R } ? R : never>;
  execute<A extends z.ZodObject, R extends z.ZodType, P extends CommandPolicy>(
    command: CommandSpec<A, R, P>,
    args: CommandCallArgs<A, P>,
    caller: Caller,
  ): Promise<z.output<R>>;
  execute<N extends string>(
    name: N extends keyof CommandMap ? never : N,
    args: Readonly<Record<string, unknown>>,
    caller: Caller,
    version?: number,
  ): Promise<unknown>;
  async execute(
    command: string | AnyCommandSpec,
    args: Readonly<Record<string, unknown>>,
    caller: Caller,
    version?: number,
  ): Promise<unknown> {
    const name = typeof command === 'string' ? command : command.name;
    const asked =
      typeof command === 'string'
        ? (version ?? DEFAULTS.latestCommandVersion)
        : (command.version ?? DEFAULTS.commandVersion);
    let ranVersion = asked;
    try {
      const info = this.get(name, asked);
      ranVersion = info.version;
      const input = checkAccess(info, args, caller);
      const parsed = info.args.safeParse(input);
      if (!parsed.success)
        throw new InvalidArgumentsError(name, toIssues(parsed.error), { cause: parsed.error });
      const data = parsed.data as Record<string, unknown>;
      const hooked = this.hooks?.run('api_call', DEFAULTS.globalHost, name, data, caller);
      if (hooked !== undefined) await hooked;
      const raw = await info.spec.handler(data, { caller, name, version: info.version });
      const result = info.result.safeParse(raw);
      if (!result.success)
        throw new InvalidResultError(name, toIssues(result.error), { cause: result.error });
      this.events?.emit('command_executed', { command: name, version: ranVersion, caller, ok: true });
      return result.data;
    } catch (error) {
      this.events?.emit('command_executed', { command: name, version: ranVersion, caller, ok: false, error });
      throw error;
    }
  }
}

function prepare(spec: AnyCommandSpec, definer: string): CommandInfo {
  const version = spec.version ?? DEFAULTS.commandVersion;
  const policy = spec.policy ?? DEFAULTS.commandPolicy;
  const tags = [...(spec.tags ?? [])];
  if (version !== 0) tags.push(`v${version}`);
  const args = spec.args as z.ZodObject;
  return {
    name: spec.name,
    version,
    tags,
    description: spec.description ?? '',
    longDescription: spec.longDescription ?? '',
    note: spec.note ?? '',
    policy,
    args: policy === 'user' ? args.extend(USER_ARGS) : args,
    result: spec.result as z.ZodType,
    definer,
    spec,
  };
}

/**
 * The policy check (see `POLICY_TABLE`); for policy `user` and a `user` caller, also the
 * own-account check and the injection of `user` and `host`. Returns the arguments to validate.
 */
function checkAccess(
  info: CommandInfo,
  args: Readonly<Record<string, unknown>>,
  caller: Caller,
): Readonly<Record<string, unknown>> {
  if (!policyAdmits(info.policy, caller)) throw new AccessDeniedError(info.name, info.policy, caller);
  if (info.policy !== 'user' || caller.kind !== 'user') return args;
  if (args === null || typeof args !== 'object') return args;
  for (const key of ['user', 'host'] as const) {
    if (args[key] !== undefined && args[key] !== caller[key]) {
      throw new AccessDeniedError(info.name, info.policy, caller, `a user may only act on their own account`);
    }
  }
  return { ...args, user: caller.user, host: caller.host };
}
