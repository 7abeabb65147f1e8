/**
 * `@otp-chat/xmpp/testing`: a typed `@xmpp/client` login helper for tests, examples and
 * benchmarks (plain TCP, PLAIN by default).
 */
export {
  type ConnectClientOptions,
  connectClient,
  type ReceivedStreamError,
  type TestClient,
} from './connectClient.ts';
