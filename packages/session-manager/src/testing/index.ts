/**
 * `@otp-chat/session-manager/testing`: the backend conformance suite, the session manager's
 * model-based test and its crash test on any backend, and small test helpers.
 *
 * ```ts
 * import { backendConformance } from '@otp-chat/session-manager/testing';
 * backendConformance('RedisBackend', { create: () => new RedisBackend({ url }), destroy: (b) => b.stop?.() });
 * ```
 */
export { type BackendActorInfo, backendActors } from './backendActors.ts';
export { type BackendFactory, backendConformance, CONFORMANCE_HOSTS } from './backendConformance.ts';
export { type OutageControl, type OutageResult, outageWorkload } from './outageWorkload.ts';
export { cleanedRows, fakeRef, makeRow } from './rows.ts';
export { CRASH_HOST, type SessionManagerCrashOptions, sessionManagerCrash } from './sessionManagerCrash.ts';
export {
  MODEL_CASES,
  MODEL_HOST,
  MODEL_HOSTS,
  MODEL_NODE_CASES,
  type ModelCommand,
  type ModelConfig,
  type ModelNodes,
  type SessionManagerModelOptions,
  sessionManagerModel,
} from './sessionManagerModel.ts';
export {
  recorderConnection,
  type SmNodeEvent,
  SmNodeProcess,
  type SmNodeRequest,
  serveSmNode,
} from './smNodeProcess.ts';
export { type SharedStoreBackend, type TwoNodesOptions, twoNodesSuite } from './twoNodesSuite.ts';
export { type TwoProcessOptions, twoProcessSuite } from './twoProcessSuite.ts';
