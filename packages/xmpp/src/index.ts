export { DEFAULTS } from './DEFAULTS.ts';
export {
  RegisterError,
  StreamError,
  type StreamErrorCondition,
  XmppConfigError,
  XmppError,
} from './errors.ts';
export { MemoryUserStore, type MemoryUserStoreOptions } from './MemoryUserStore.ts';
export { type RedisHashClient, RedisUserStore, type RedisUserStoreOptions } from './RedisUserStore.ts';
export { type PlainMessage, parsePlain } from './SaslPlain.ts';
export {
  type ScramCredentials,
  type ScramLookup,
  ScramSha1Server,
  type ScramSha1ServerOptions,
  type ScramStep,
  scramCredentials,
} from './ScramSha1.ts';
export { StreamParser, type StreamParserOptions, type StreamParserSink } from './StreamParser.ts';
export type { MaybePromise, PasswordFormat, UserStore } from './UserStore.ts';
