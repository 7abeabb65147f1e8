/** One entry of the members hash, decoded. Times are Redis server milliseconds. */
export interface MemberEntry {
  readonly node: string;
  readonly token: string;
  /** Last heartbeat. */
  readonly beat: number;
  /** When this incarnation claimed the name. */
  readonly since: number;
  /** When it was declared down or left; 0 while up. */
  readonly down: number;
  /** Whether its clean-up ran. */
  readonly cleaned: boolean;
}

/** Why a node went down, as this node saw it. */
export type NodeDownReason =
  /** Its heartbeat expired (it died, or cannot reach Redis). */
  | 'expired'
  /** Another node declared it down (its clean-up started) or it left. */
  | 'declared'
  /** A new incarnation took its name: the old one is gone. */
  | 'restarted'
  /** Its entry disappeared. */
  | 'gone'
  /** This node lost its view (Redis lost its data, or this node stopped): every node counts as down. */
  | 'disconnected';

/** What a change of the membership view means for monitors (`net_kernel:monitor_nodes`). */
export type MembershipEvent =
  | { readonly type: 'nodeup'; readonly node: string; readonly token: string }
  | {
      readonly type: 'nodedown';
      readonly node: string;
      readonly token: string;
      readonly reason: NodeDownReason;
    };

/** Tokens of dead incarnations remembered, so that their late messages are dropped. */
const MAX_DEAD_TOKENS = 4096;

/**
 * The membership as this node sees it, with the rules that decide when another node is down:
 *
 * - a node is **up** while its entry is not marked down and its last heartbeat is at most
 *   `timeoutMs` old by Redis server time;
 * - an explicit mark (a survivor took its clean-up, or it left) takes it down at once;
 * - an expired heartbeat takes it down only when this node may **judge**: it has beaten without
 *   interruption for at least `timeoutMs` since it last (re)gained Redis. A node cut off from
 *   Redis (or just back) keeps its last view instead of declaring everyone dead: the others may
 *   simply not have had a chance to beat since Redis came back;
 * - a new token under a known name is a restart: `nodedown` for the old incarnation, then `nodeup`;
 * - an incarnation whose heartbeat expired and that beats again, never marked down, is up again
 *   (`nodeup` after its `nodedown`: it was cut off, not dead, as an Erlang node reconnecting).
 *
 * Pure: fed with scan results, pub/sub announcements and connection changes; returns the events.
 */
export class Membership {
  /** Up nodes: name → token of the incarnation seen up. */
  private readonly up = new Map<string, string>();
  /** Tokens of incarnations seen down (bounded), whose late messages are dropped. */
  private readonly deadTokens = new Set<string>();
  /** Server time of the first successful heartbeat since Redis was last (re)gained. */
  private judgeSince: number | undefined;

  constructor(
    readonly self: string,
    private readonly timeoutMs: number,
  ) {}

  isUp(node: string): boolean {
    return this.up.has(node);
  }

  /** The token of `node`'s incarnation that is up, if it is. */
  tokenOf(node: string): string | undefined {
    return this.up.get(node);
  }

  nodes(): string[] {
    return [...this.up.keys()];
  }

  /** True when `token` belongs to an incarnation seen down. */
  isDeadToken(token: string): boolean {
    return this.deadTokens.has(token);
  }

  /** A heartbeat succeeded at server time `now`. */
  beatOk(now: number): void {
    this.judgeSince ??= now;
  }

  /** Redis was lost (or a heartbeat failed): no judging until a full timeout of beats after it is back. */
  connectionLost(): void {
    this.judgeSince = undefined;
  }

  /** Whether an expired heartbeat may be read as a dead node at server time `now`. */
  canJudge(now: number): boolean {
    return this.judgeSince !== undefined && now - this.judgeSince >= this.timeoutMs;
  }

  /** Whether `e` is up at server time `now`. */
  isAlive(e: MemberEntry, now: number): boolean {
    return e.down === 0 && now - e.beat <= this.timeoutMs;
  }

  /**
   * Applies a full read of the members hash at server time `now`. Returns the events, and the
   * dead incarnations whose clean-up is still to be done (for nodes other than this one, and only
   * those this node may judge).
   */
  applyScan(
    now: number,
    entries: readonly MemberEntry[],
  ): { events: MembershipEvent[]; dead: MemberEntry[] } {
    const events: MembershipEvent[] = [];
    const dead: MemberEntry[] = [];
    const judge = this.canJudge(now);
    const seen = new Set<string>();
    for (const e of entries) {
      if (e.node === this.self) continue;
      seen.add(e.node);
      const known = this.up.get(e.node);
      if (this.isAlive(e, now)) {
        if (known === e.token) continue;
        if (known !== undefined) events.push(this.markDown(e.node, known, 'restarted'));
        // Seen down before (its heartbeat expired) and beating again, never marked down: it was
        // cut off, not dead, and it is up again (Erlang reconnects after a nodedown).
        this.deadTokens.delete(e.token);
        this.up.set(e.node, e.token);
        events.push({ type: 'nodeup', node: e.node, token: e.token });
        continue;
      }
      // Not alive: marked down, or its heartbeat expired.
      const declared = e.down !== 0;
      if (!declared && !judge) continue; // keep the last view
      if (known === e.token) events.push(this.markDown(e.node, known, declared ? 'declared' : 'expired'));
      else if (known !== undefined) events.push(this.markDown(e.node, known, 'restarted'));
      else this.remember(e.token);
      if (!e.cleaned) dead.push(e);
    }
    for (const [node, token] of [...this.up]) {
      if (!seen.has(node) && judge) events.push(this.markDown(node, token, 'gone'));
    }
    return { events, dead };
  }

  /** An `up` announcement (a node claimed its name). */
  announcedUp(node: string, token: string): MembershipEvent[] {
    if (node === this.self || this.deadTokens.has(token)) return [];
    const known = this.up.get(node);
    if (known === token) return [];
    const events: MembershipEvent[] = [];
    if (known !== undefined) events.push(this.markDown(node, known, 'restarted'));
    this.up.set(node, token);
    events.push({ type: 'nodeup', node, token });
    return events;
  }

  /** A `down` announcement (a node left, or a survivor took its clean-up). */
  announcedDown(node: string, token: string): MembershipEvent[] {
    if (this.up.get(node) !== token) {
      this.remember(token);
      return [];
    }
    return [this.markDown(node, token, 'declared')];
  }

  /**
   * A message arrived from `node`'s incarnation `token`: proof that it is up when this node has
   * not heard of it yet (its `up` announcement may come later on another connection). Returns
   * the events, or `'stale'` for a message of an incarnation seen down (to be dropped).
   */
  heardFrom(node: string, token: string): MembershipEvent[] | 'stale' {
    if (this.deadTokens.has(token)) return 'stale';
    const known = this.up.get(node);
    if (known === token) return [];
    return this.announcedUp(node, token);
  }

  /**
   * Every node counts as down (Redis lost its data, or this node stops). Their incarnations are not
   * dead: they come back up when seen again.
   */
  clear(): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const [node, token] of [...this.up]) {
      this.up.delete(node);
      events.push({ type: 'nodedown', node, token, reason: 'disconnected' });
    }
    return events;
  }

  private markDown(node: string, token: string, reason: NodeDownReason): MembershipEvent {
    this.up.delete(node);
    this.remember(token);
    return { type: 'nodedown', node, token, reason };
  }

  private remember(token: string): void {
    if (this.deadTokens.size >= MAX_DEAD_TOKENS) {
      const oldest = this.deadTokens.values().next().value;
      if (oldest !== undefined) this.deadTokens.delete(oldest);
    }
    this.deadTokens.add(token);
  }
}

/** Decodes `HGETALL`-style pairs from the BEAT script; skips what cannot be read. */
export function parseEntries(pairs: readonly unknown[]): MemberEntry[] {
  const out: MemberEntry[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    try {
      const m = JSON.parse(String(pairs[i + 1])) as { t: string; b: number; s: number; d: number; c: number };
      out.push({
        node: String(pairs[i]),
        token: String(m.t),
        beat: Number(m.b),
        since: Number(m.s),
        down: Number(m.d),
        cleaned: m.c === 1,
      });
    } catch {
      // an entry written by something else: not a member
    }
  }
  return out;
}
