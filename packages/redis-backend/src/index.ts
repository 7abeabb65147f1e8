export { DEFAULTS } from './DEFAULTS.ts';
export {
  BackendTimeoutError,
  BackendUnavailableError,
  RedisCommandError,
  SessionDecodeError,
  UnsupportedRedisVersionError,
} from './errors.ts';
export { RedisBackend, type RedisBackendOptions, type RedisBackendStatus } from './RedisBackend.ts';
export { RedisKeys } from './RedisKeys.ts';
export { compareRedisVersions, MIN_REDIS_VERSION, redisVersionOf } from './redisVersion.ts';
export { decodeSession, encodeSession, SESSION_CODEC_VERSION } from './sessionCodec.ts';
