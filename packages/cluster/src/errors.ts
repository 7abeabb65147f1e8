/** Base class of the cluster's errors. */
export abstract class ClusterError extends Error {
  abstract override readonly name: string;
}

/**
 * A live node already holds this name (its heartbeat is fresh). Two live nodes with one name
 * would resolve each other's refs: the second is refused at start. A restart under the same name
 * is allowed once the previous incarnation's heartbeat has expired.
 */
export class NodeNameTakenError extends ClusterError {
  readonly name = 'NodeNameTakenError';
  constructor(
    readonly node: string,
    /** Milliseconds since the holder's last heartbeat (Redis server time). */
    readonly heartbeatAgeMs: number,
  ) {
    super(
      `node name ${node} is taken by a live node (its last heartbeat was ${heartbeatAgeMs} ms ago): ` +
        'choose another name, or wait until that node stops',
    );
  }
}

/**
 * This node lost its name while running: another incarnation took it (`taken`), a survivor
 * declared it down and cleaned its sessions while it could not reach Redis (`declared-down`), or
 * its entry was removed (`gone`). Its remote links and monitors have fired `noconnection`; it must
 * not go on as a member (its sessions are no longer in the store): stop it and start again.
 */
export class NodeNameLostError extends ClusterError {
  readonly name = 'NodeNameLostError';
  constructor(
    readonly node: string,
    readonly why: 'taken' | 'declared-down' | 'gone',
  ) {
    super(
      `node ${node} lost its name (${why}): ` +
        (why === 'declared-down'
          ? 'the other nodes declared it down and cleaned its sessions while it could not reach Redis'
          : why === 'taken'
            ? 'another node took the name while this one could not reach Redis'
            : 'its membership entry was removed'),
    );
  }
}

/** Redis could not be reached (at start, or for an operation that needs it now). */
export class ClusterUnavailableError extends ClusterError {
  readonly name = 'ClusterUnavailableError';
  constructor(
    readonly operation: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cluster: redis unavailable for ${operation}`, options);
  }
}

/** `Cluster.start` gave up waiting for the clean-up of this name's previous incarnation. */
export class ClaimTimeoutError extends ClusterError {
  readonly name = 'ClaimTimeoutError';
  constructor(
    readonly node: string,
    readonly waitedMs: number,
  ) {
    super(`node ${node}: the clean-up of its previous incarnation did not finish within ${waitedMs} ms`);
  }
}
