export type { ActorContext } from './ActorContext.ts';
export { ActorRef, isActorRef } from './ActorRef.ts';
export {
  ActorSystem,
  type ActorSystemOptions,
  type ExitListener,
  type ProcessInfo,
  type ServerRef,
  type SpawnOptions,
  type StartResult,
} from './ActorSystem.ts';
export { type Clock, SimulatedClock, systemClock, type TimerHandle } from './Clock.ts';
export { CodecRegistry, type MessageCodec, type Wire } from './Codecs.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export type { Distribution, DistributionPort, DistSignal, RemoteCallFailure } from './Distribution.ts';
export { type ExitReason, formatReason, isCleanExit } from './ExitReason.ts';
export {
  ActorError,
  AlreadyStartedError,
  BadReturnError,
  CallingSelfError,
  CallTimeoutError,
  CodecConflictError,
  DistributionError,
  ExitError,
  MessageDecodeError,
  NoConnectionError,
  NoProcError,
  RemoteError,
  StartError,
  UnencodableMessageError,
} from './errors.ts';
export { fromMachine, type GetSnapshot, type MachineState } from './fromMachine.ts';
export {
  type CallResult,
  type DownMessage,
  type ExitMessage,
  type From,
  type GenServer,
  type InitResult,
  isDownMessage,
  isExitMessage,
  type MonitorRef,
  type NoReplyResult,
  type SystemInfo,
} from './GenServer.ts';
export { childLogger, defaultLogger, type Logger, moduleLogger, silentLogger } from './Logger.ts';
export { andThen, isThenable, type MaybePromise } from './MaybePromise.ts';
export { type ActorName, Registry, type ViaRegistry } from './Registry.ts';
export { reply } from './reply.ts';
