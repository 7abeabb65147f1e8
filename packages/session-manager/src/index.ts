export type { Backend, BackendInitContext, MaybePromise } from './Backend.ts';
export {
  BackendError,
  BackendInitError,
  IqDecodeError,
  NotStartedError,
  SessionManagerError,
  UnknownHostError,
} from './errors.ts';
export { MemoryBackend } from './MemoryBackend.ts';
export {
  cleanSessionList,
  compareSessions,
  newestSession,
  oldestSession,
  type Priority,
  Session,
  type SessionInfo,
  type SessionJSON,
} from './Session.ts';
export { compareSid, Sid, SidFactory, type SidJSON } from './Sid.ts';
