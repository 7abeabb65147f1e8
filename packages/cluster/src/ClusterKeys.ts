/**
 * The cluster's keys under one prefix (default `otp-chat:cluster`):
 *
 * | key | type | what |
 * |---|---|---|
 * | `<prefix>:members` | hash | node name → JSON `{ t: token, b: last beat, s: since, d: down at (0: up), c: cleaned (0/1) }`, times in Redis server ms |
 * | `<prefix>:epoch` | string | a random value set once; gone or changed means Redis lost its data |
 * | `<prefix>:inbox:<node>` | stream | the node's inbox: one entry per batch, fields `f` from, `t` from's token, `n` batch number, `k` signals before it, `r` reset the pair (1), `m` JSON array of signals |
 * | `<prefix>:clean:<node>:<token>` | string | the clean-up lock of a dead incarnation (`SET NX PX`) |
 * | `<prefix>:events` | pub/sub channel | `up\n<node>\n<token>`, `down\n<node>\n<token>` |
 */
export class ClusterKeys {
  readonly members: string;
  readonly epoch: string;
  readonly channel: string;
  /** Prefix of the clean-up locks (`<prefix>:clean:`). */
  readonly lockPrefix: string;

  constructor(readonly prefix: string) {
    this.members = `${prefix}:members`;
    this.epoch = `${prefix}:epoch`;
    this.channel = `${prefix}:events`;
    this.lockPrefix = `${prefix}:clean:`;
  }

  inbox(node: string): string {
    return `${this.prefix}:inbox:${node}`;
  }

  lock(node: string, token: string): string {
    return `${this.lockPrefix}${node}:${token}`;
  }
}
