export { DEFAULTS } from './DEFAULTS.ts';
export {
  BackendTimeoutError,
  BackendUnavailableError,
  RedisCommandError,
  SessionDecodeError,
} from './errors.ts';
export { RedisBackend, type RedisBackendOptions, type RedisBackendStatus } from './RedisBackend.ts';
export { RedisKeys } from './RedisKeys.ts';
export { decodeSession, encodeSession, SESSION_CODEC_VERSION } from './sessionCodec.ts';
