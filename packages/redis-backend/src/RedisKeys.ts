import type { Session } from '@otp-chat/session-manager';

/**
 * The key layout of the Redis backend, `ejabberd_sm_redis`'s under a configurable prefix:
 *
 * | key | type | field | value |
 * |---|---|---|---|
 * | `<prefix>:<luser>@<lserver>` | hash | {@link RedisKeys.userField} (`sid.key()`) | encoded row |
 * | `<prefix>:<lserver>` | hash | {@link RedisKeys.serverField} | encoded row |
 * | `<prefix>:<lserver>:node:<node>` | hash | the server field | JSON `[userKey, userField]` |
 * | channel `<prefix>` | pub/sub | — | `<instance>\n<userKey>` or `<instance>\n*` |
 * | `<prefix>:alive:<node>` | string | — | the node's incarnation (store-loss marker) |
 *
 * The node is the row's connection node (`sid.ref.node`), so any node's rows can be cleaned, not
 * only this node's. Unlike ejabberd's `USKey||SIDKey` fields, the node index value is JSON, so the
 * clean-up script never guesses where a field ends.
 */
export class RedisKeys {
  constructor(
    /** The key prefix, also the pub/sub channel. */
    readonly prefix: string,
  ) {}

  /** The pub/sub invalidation channel. */
  get channel(): string {
    return this.prefix;
  }

  /** `<prefix>:<luser>@<lserver>`: the user's hash, and the cache key. */
  user(luser: string, lserver: string): string {
    return `${this.prefix}:${luser}@${lserver}`;
  }

  /** `<prefix>:<lserver>`: the virtual host's hash. */
  server(lserver: string): string {
    return `${this.prefix}:${lserver}`;
  }

  /** `<prefix>:<lserver>:node:<node>`: the index of one node's rows on one host. */
  node(lserver: string, node: string): string {
    return `${this.prefix}:${lserver}:node:${node}`;
  }

  /**
   * `<prefix>:alive:<node>`: written when the node starts; its absence after a reconnection means
   * Redis lost the node's rows (restarted without persistence).
   */
  marker(node: string): string {
    return `${this.prefix}:alive:${node}`;
  }

  /** Field of a row in its user's hash: the sid's stable key. */
  userField(s: Session): string {
    return s.sid.key();
  }

  /** Field of a row in the server hash and the node index: unique per (user, sid), length-prefixed. */
  serverField(s: Session): string {
    return `${s.luser.length}:${s.luser}|${s.sid.key()}`;
  }
}
