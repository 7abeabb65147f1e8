export { AdminMetrics, type AdminMetricsOptions, instrumentBackend, TIMED_HOOKS } from './AdminMetrics.ts';
export { AdminServer, type AdminServerOptions } from './AdminServer.ts';
export { AdminTokens, type TokenCaller } from './AdminTokens.ts';
export { type CtlIo, formatResult, runCtl } from './cli/ctl.ts';
export { EXIT } from './cli/exitCodes.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export { type Readiness, type ReadinessCheck, readiness } from './health.ts';
export type { ApiError } from './httpApi.ts';
export { type NodeStatusSource, nodeCommands } from './nodeCommands.ts';
export { Observer, type ObserverOptions, type ObserverSnapshot } from './Observer.ts';
export { type CommandOperation, type JsonSchema, type OpenApiDocument, openApiDocument } from './openApi.ts';
export {
  type RestartEvent,
  type SupervisionNode,
  type SupervisionRoot,
  SupervisionWatch,
} from './SupervisionWatch.ts';
export { defaultTokenFile } from './tokenFile.ts';
