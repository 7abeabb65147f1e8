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
  ModuleStoreError,
  RegisterError,
  StreamError,
  type StreamErrorCondition,
  XmppConfigError,
  XmppError,
} from './errors.ts';
export type { C2SAuthResult, RosterItem } from './hooks.ts';
export { MemoryModuleStore } from './MemoryModuleStore.ts';
export { MemoryUserStore, type MemoryUserStoreOptions } from './MemoryUserStore.ts';
export type { ModuleStore } from './ModuleStore.ts';
export { modBlocking, NS_BLOCKING, NS_BLOCKING_ERRORS } from './modBlocking.ts';
export { modCarboncopy, NS_CARBONS } from './modCarboncopy.ts';
export { type ModDiscoOptions, modDisco, NS_DISCO_INFO, NS_DISCO_ITEMS } from './modDisco.ts';
export { type ModOfflineOptions, modOffline, NS_MSGOFFLINE, type OfflineStore } from './modOffline.ts';
export { modPing, NS_PING } from './modPing.ts';
export { modPresence } from './modPresence.ts';
export { modRegister } from './modRegister.ts';
export { type ModRosterOptions, modRoster, NS_ROSTER, NS_ROSTER_VER, type RosterApi } from './modRoster.ts';
export {
  type RedisModuleClient,
  RedisModuleStore,
  type RedisModuleStoreOptions,
} from './RedisModuleStore.ts';
export { type RedisHashClient, RedisUserStore, type RedisUserStoreOptions } from './RedisUserStore.ts';
export {
  type Ask,
  inAutoReply,
  inStateChange,
  outStateChange,
  type Subscription,
  type SubscriptionState,
  type SubscriptionType,
} from './rosterSubscription.ts';
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
export { MODULE_SCHEMA, SqlModuleStore, type SqlModuleStoreOptions } from './SqlModuleStore.ts';
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
