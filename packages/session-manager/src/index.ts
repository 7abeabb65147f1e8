/** The stanza type and builder (`@xmpp/xml`), re-exported for packages that only build stanzas to route. */
export { default as xml, type Element } from '@xmpp/xml';
export {
  adminExtraCommands,
  type ConnectedUserInfoEntry,
  type UserSessionInfoEntry,
} from './adminCommands.ts';
export type { Backend, BackendInitContext, CleanNodeResult } from './Backend.ts';
export {
  type ConnectionCall,
  callGetPresence,
  callSetPresence,
  GET_PRESENCE,
  type GetPresenceCall,
  isConnectionCall,
  type SetPresenceCall,
} from './ConnectionCall.ts';
export {
  type ConnectionMessage,
  isConnectionMessage,
  KICK,
  type KickMessage,
  REPLACED,
  REREGISTER,
  RESET,
  type ReplacedMessage,
  type ReregisterMessage,
  type RouteMessage,
  type SessionExitMessage,
  type ShutdownMessage,
  type StreamErrorSpec,
  SYSTEM_SHUTDOWN,
  streamErrorFor,
} from './ConnectionMessage.ts';
export { jidCodec, receivedText, registerSessionManagerCodecs, xmlElementCodec } from './codecs.ts';
export { sessionManagerCommands } from './commands.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export {
  BackendError,
  BackendInitError,
  BackendTimeoutError,
  BackendUnavailableError,
  IqDecodeError,
  NotStartedError,
  SessionManagerError,
  SessionNotFoundError,
  UnknownHostError,
} from './errors.ts';
export type { SmPacketAcc } from './hooks.ts';
export { type IqHandler, IqHandlerTable, type IqRouting } from './IqHandlerTable.ts';
export { MemoryBackend } from './MemoryBackend.ts';
export {
  messageType,
  newestOfResource,
  type PresentResource,
  presentResources,
  type RoutingEnv,
  routeMessage,
  routeStanza,
} from './routing.ts';
export {
  cleanSessionList,
  compareSessions,
  newestSession,
  oldestSession,
  type Priority,
  Session,
  type SessionInfo,
  type SessionJSON,
  sessionIp,
} from './Session.ts';
export { type CacheTicket, SessionCache } from './SessionCache.ts';
export {
  ignoreSmBounce,
  type PerUser,
  type ServerState,
  SessionManager,
  type SessionManagerOptions,
  sessionManagerServer,
  type UserSessionInfo,
} from './SessionManager.ts';
export { compareSid, Sid, SidFactory, type SidJSON } from './Sid.ts';
export {
  errorCondition,
  errorText,
  makeErrorReply,
  mayAnswerWithError,
  STANZA_ERROR_TYPES,
  type StanzaErrorCondition,
} from './stanzaError.ts';
