import type { Caller, CommandPolicy } from './Caller.ts';

/** One argument problem: the dotted path of the field and what is wrong with it. */
export interface ArgumentIssue {
  readonly path: string;
  readonly message: string;
}

/** `register` was given a name that is already registered (`ejabberd_commands:register_commands/2`: "another one already exists"). */
export class DuplicateCommandError extends Error {
  override readonly name = 'DuplicateCommandError' as const;
  readonly command: string;
  readonly version: number;

  constructor(command: string, version: number) {
    super(`command "${command}" is already registered`);
    this.command = command;
    this.version = version;
  }
}

/** No command of that name, or none with a version ≤ the one asked (`ejabberd_commands:get_command_definition/2`: `unknown_command`). */
export class UnknownCommandError extends Error {
  override readonly name = 'UnknownCommandError' as const;
  readonly command: string;
  readonly version: number;

  constructor(command: string, version: number) {
    super(`unknown command "${command}" (version ≤ ${version})`);
    this.command = command;
    this.version = version;
  }
}

/** The caller may not execute the command; nothing was executed (`ejabberd_commands:execute_command2/4`: `access_rules_unauthorized`). */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedError' as const;
  readonly command: string;
  readonly policy: CommandPolicy;
  readonly caller: Caller;

  constructor(command: string, policy: CommandPolicy, caller: Caller, detail?: string) {
    super(
      `access denied: command "${command}" (policy ${policy}) refused to caller ${caller.kind}` +
        (detail === undefined ? '' : `: ${detail}`),
    );
    this.command = command;
    this.policy = policy;
    this.caller = caller;
  }
}

function describe(issues: readonly ArgumentIssue[]): string {
  return issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('; ');
}

/** The arguments do not match the command's schema; `issues` names each bad field. */
export class InvalidArgumentsError extends Error {
  override readonly name = 'InvalidArgumentsError' as const;
  readonly command: string;
  readonly issues: readonly ArgumentIssue[];

  constructor(command: string, issues: readonly ArgumentIssue[], options?: ErrorOptions) {
    super(`invalid arguments for command "${command}": ${describe(issues)}`, options);
    this.command = command;
    this.issues = issues;
  }
}

/** The command's handler returned a value that does not match its result schema (a handler bug). */
export class InvalidResultError extends Error {
  override readonly name = 'InvalidResultError' as const;
  readonly command: string;
  readonly issues: readonly ArgumentIssue[];

  constructor(command: string, issues: readonly ArgumentIssue[], options?: ErrorOptions) {
    super(`command "${command}" returned an invalid result: ${describe(issues)}`, options);
    this.command = command;
    this.issues = issues;
  }
}

/** Any error `Commands` throws itself. */
export type CommandError =
  | DuplicateCommandError
  | UnknownCommandError
  | AccessDeniedError
  | InvalidArgumentsError
  | InvalidResultError;
