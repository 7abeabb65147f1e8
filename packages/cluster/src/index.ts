export {
  Cluster,
  type ClusterOptions,
  type ClusterStatus,
  type NodeCleanup,
  type NodeEvent,
} from './Cluster.ts';
export { ClusterKeys } from './ClusterKeys.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export {
  ClaimTimeoutError,
  ClusterError,
  ClusterUnavailableError,
  NodeNameLostError,
  NodeNameTakenError,
} from './errors.ts';
export type { NodeDownReason } from './internal/Membership.ts';
export type { TransportStats } from './internal/Transport.ts';
