export {
  type AuthFailureOutcome,
  type AuthLockout,
  AuthThrottle,
  type AuthThrottleOptions,
} from './AuthThrottle.ts';
export { C2SConnection, type C2SConnectionArgs, c2sConnectionServer } from './C2SConnection.ts';
export type { AccessRule, C2SOptions, ResourceConflict, SaslMechanism } from './C2SOptions.ts';
export type { C2SSocket } from './C2SSocket.ts';
export {
  type C2SActionEvent,
  type C2SActionEvents,
  type C2SActionName,
  type C2SContext,
  type C2SEvent,
  type C2SInput,
  type C2SStateName,
  c2sMachine,
  type StartTlsPolicy,
  type StreamErrorInfo,
} from './c2sMachine.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export {
  RegisterError,
  StreamError,
  type StreamErrorCondition,
  XmppConfigError,
  XmppError,
} from './errors.ts';
export type { C2SAuthResult } from './hooks.ts';
export { MemoryUserStore, type MemoryUserStoreOptions } from './MemoryUserStore.ts';
export { type ModOfflineOptions, modOffline, type OfflineStore } from './modOffline.ts';
export { modPing, NS_PING } from './modPing.ts';
export { modRegister } from './modRegister.ts';
export { type RedisHashClient, RedisUserStore, type RedisUserStoreOptions } from './RedisUserStore.ts';
export { type PlainMessage, parsePlain } from './SaslPlain.ts';
export {
  SCRAM_MECHANISMS,
  type ScramCredentials,
  type ScramHash,
  type ScramLookup,
  type ScramMechanism,
  ScramServer,
  type ScramServerOptions,
  type ScramStep,
  scramCredentials,
  scramDecoy,
} from './Scram.ts';
export { SqlUserStore, type SqlUserStoreOptions } from './SqlUserStore.ts';
export { StreamParser, type StreamParserOptions, type StreamParserSink } from './StreamParser.ts';
export { ensureSelfSignedCertificate, selfSignedCertificate } from './selfSignedCertificate.ts';
export { type PemFiles, type PemPair, TlsCredentials } from './TlsCredentials.ts';
export type { PasswordFormat, UserStore } from './UserStore.ts';
export { WebSocketStream } from './WebSocketStream.ts';
export type { XmppModule } from './XmppModule.ts';
export {
  type ListenAddress,
  type XmppListeners,
  XmppServer,
  type XmppServerOptions,
} from './XmppServer.ts';
