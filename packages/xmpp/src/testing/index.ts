/**
 * `@otp-chat/xmpp/testing`: a typed `@xmpp/client` login helper for tests, examples and
 * benchmarks (plain TCP, PLAIN by default), and a raw-socket client for what a well-behaved client
 * will not do (malformed bytes, not reading).
 */

/** `@xmpp/xml`'s element builder, re-exported so that drivers need no extra dependency. */
export { default as xml } from '@xmpp/xml';
export {
  type ClientTransport,
  type ConnectClientOptions,
  connectClient,
  type ReceivedStreamError,
  type TestClient,
} from './connectClient.ts';
export { plainAuth, RawClient, startTags, streamOpen } from './RawClient.ts';
export { runSoak, type SoakOptions, type SoakReport } from './soak.ts';
export { provideWebSocket, trustCertificate } from './trust.ts';
