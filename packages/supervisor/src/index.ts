export { Application, type ApplicationOptions, type SignalSource, type StopSignal } from './Application.ts';
export {
  type AutoShutdown,
  type ChildSpec,
  type ChildType,
  checkChildSpec,
  dynamicWorker,
  type NormalizedChildSpec,
  type RestartType,
  type ShutdownSpec,
  type StartFunction,
  type WorkerOptions,
  worker,
} from './ChildSpec.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export {
  ApplicationStartError,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  SupervisorError,
} from './errors.ts';
export {
  type Caller,
  type ChildCounts,
  type ChildInfo,
  type DeleteChildResult,
  type FailedToStartChild,
  type RestartChildResult,
  type StartChildResult,
  type Starter,
  Supervisor,
  type SupervisorChildOptions,
  supervisor,
  type TerminateChildResult,
} from './Supervisor.ts';
export type {
  SupervisorEvent,
  SupervisorEventBase,
  SupervisorEventType,
  SupervisorListener,
} from './SupervisorEvent.ts';
export {
  type BackoffOptions,
  checkSupervisorSpec,
  type NormalizedSupervisorSpec,
  type Strategy,
  type SupervisorSpec,
} from './SupervisorSpec.ts';
