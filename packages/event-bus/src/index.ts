export { type Caller, type CallerKind, type CommandPolicy, POLICY_TABLE, policyAdmits } from './Caller.ts';
export {
  AccessDeniedError,
  type ArgumentIssue,
  type CommandError,
  DuplicateCommandError,
  InvalidArgumentsError,
  InvalidResultError,
  UnknownCommandError,
} from './CommandError.ts';
export {
  type AnyCommandSpec,
  type CommandCallArgs,
  type CommandContext,
  type CommandHandlerArgs,
  type CommandMap,
  type CommandSpec,
  defineCommand,
  type InferCommand,
} from './CommandSpec.ts';
export { type CommandInfo, Commands, type CommandsOptions, type RegisterOptions } from './Commands.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export { type EventArgsMap, EventBus } from './EventBus.ts';
export type { EventMap, EventName } from './EventMap.ts';
export { HookArityError, type HookError, InvalidHookSeqError } from './HookError.ts';
export type {
  FoldHandler,
  FoldHookName,
  FoldResult,
  HookAcc,
  HookArgs,
  HookDef,
  HookHandler,
  HookHost,
  HookMap,
  HookSubscriber,
  HookTraceEvent,
  RunHandler,
  RunHookName,
  RunResult,
} from './HookMap.ts';
export { type HookRegistration, Hooks, type HooksOptions, STOP } from './Hooks.ts';
