import { randomUUID } from 'node:crypto';
import {
  type ActorSystem,
  type Clock,
  type Distribution,
  type DistributionPort,
  type DistSignal,
  type Logger,
  moduleLogger,
  type TimerHandle,
} from '@otp-chat/actor';
import type { Redis, RedisOptions } from 'ioredis';
import { ClusterKeys } from './ClusterKeys.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import {
  ClaimTimeoutError,
  ClusterUnavailableError,
  NodeNameLostError,
  NodeNameTakenError,
} from './errors.ts';
import {
  type MemberEntry,
  Membership,
  type MembershipEvent,
  type NodeDownReason,
  parseEntries,
} from './internal/Membership.ts';
import { closeClient, makeClient } from './internal/redisClient.ts';
import { BEAT, CLAIM, DONE, LEAVE, LOCK, RELEASE, RENEW } from './internal/scripts.ts';
import { Transport, type TransportStats } from './internal/Transport.ts';

/** Options of {@link Cluster.start}; every number defaults to {@link DEFAULTS}. */
export interface ClusterOptions {
  /** The node: its `node` name is the name claimed in the cluster. */
  readonly system: ActorSystem;
  /** @default DEFAULTS.url */
  readonly url?: string;
  /** @default DEFAULTS.prefix */
  readonly prefix?: string;
  readonly heartbeatIntervalMs?: number;
  readonly nodeTimeoutMs?: number;
  readonly batchMaxMessages?: number;
  readonly batchesInFlight?: number;
  readonly readCount?: number;
  readonly readBlockMs?: number;
  readonly inboxMaxLen?: number;
  readonly outboxMaxMessages?: number;
  readonly outboxMaxBytes?: number;
  readonly batchMaxBytes?: number;
  readonly replyErrorRetries?: number;
  readonly cleanupLockTtlMs?: number;
  readonly claimTimeoutMs?: number;
  readonly forgetAfterMs?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  readonly stopFlushTimeoutMs?: number;
  /** Extra ioredis options for the three connections (fault handling ones are overridden). */
  readonly redisOptions?: RedisOptions;
  /** @default the system's logger */
  readonly logger?: Logger;
  /** Timers of the heartbeat and the lock renewal. @default the system's clock */
  readonly clock?: Clock;
}

/** A membership change, as `net_kernel:monitor_nodes` reports it (`{nodeup, N}`, `{nodedown, N}`). */
export type NodeEvent =
  | { readonly type: 'nodeup'; readonly node: string }
  | { readonly type: 'nodedown'; readonly node: string; readonly reason: NodeDownReason };

/**
 * Cleans up after a dead node (remove its sessions and run their hooks, say). Runs on exactly one
 * surviving node per dead incarnation, under a lock in Redis; `signal` aborts when the lock is
 * lost. Throwing (or rejecting) releases the lock, and a survivor tries again later.
 */
export type NodeCleanup = (node: string, context: { readonly signal: AbortSignal }) => unknown;

/** Where the node stands. */
export type ClusterStatus = 'running' | 'stopping' | 'stopped';

/**
 * `@otp-chat/cluster`: nodes (`ActorSystem`s in any number of processes) that share a Redis become
 * one Erlang-style cluster. It claims the system's node name (refusing a name a live node holds),
 * keeps membership by heartbeats in Redis server time (`nodes()`, `monitorNodes`), carries signals
 * between nodes over one Redis Stream per node (attached to the system as its distribution, so
 * `send`, `cast`, `call`, `monitor` and `link` work on refs of other nodes), and runs the node-down
 * clean-up on one survivor.
 *
 * @example
 * ```ts
 * const system = new ActorSystem({ node: 'chat1@host' });
 * const cluster = await Cluster.start({ system, url: 'redis://127.0.0.1:6379' });
 * cluster.monitorNodes((e) => console.log(e.type, e.node));
 * cluster.addNodeCleanup((node) => sm.cleanNode(node));
 * // … refs of other nodes now work everywhere …
 * await cluster.stop();
 * ```
 */
export class Cluster {
  readonly system: ActorSystem;
  readonly node: string;
  /** This incarnation's token (random per start). */
  readonly token = randomUUID();
  readonly keys: ClusterKeys;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly o: Required<Omit<ClusterOptions, 'system' | 'redisOptions' | 'logger' | 'clock'>>;
  private readonly main: Redis;
  private readonly reader: Redis;
  private readonly sub: Redis;
  private readonly membership: Membership;
  private readonly transport: Transport;
  private port: DistributionPort | undefined;
  private epoch = '';
  private beatTimer: TimerHandle | undefined;
  private beating: Promise<void> | undefined;
  private state: ClusterStatus = 'running';
  private readonly monitors = new Set<(event: NodeEvent) => void>();
  private readonly fatalListeners = new Set<(error: NodeNameLostError) => void>();
  private readonly cleanups: NodeCleanup[] = [];
  /** Dead incarnations (`node\ntoken`) being cleaned here, or queued. */
  private readonly cleaning = new Set<string>();
  private cleanupChain: Promise<void> = Promise.resolve();
  private lostAt: number | undefined;

  private constructor(options: ClusterOptions) {
    this.system = options.system;
    this.node = options.system.node;
    this.logger = moduleLogger(options.logger ?? options.system.logger, 'cluster');
    this.clock = options.clock ?? options.system.clock;
    const o = {
      url: options.url ?? DEFAULTS.url,
      prefix: options.prefix ?? DEFAULTS.prefix,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      nodeTimeoutMs: options.nodeTimeoutMs ?? DEFAULTS.nodeTimeoutMs,
      batchMaxMessages: options.batchMaxMessages ?? DEFAULTS.batchMaxMessages,
      batchesInFlight: options.batchesInFlight ?? DEFAULTS.batchesInFlight,
      readCount: options.readCount ?? DEFAULTS.readCount,
      readBlockMs: options.readBlockMs ?? DEFAULTS.readBlockMs,
      inboxMaxLen: options.inboxMaxLen ?? DEFAULTS.inboxMaxLen,
      outboxMaxMessages: options.outboxMaxMessages ?? DEFAULTS.outboxMaxMessages,
      outboxMaxBytes: options.outboxMaxBytes ?? DEFAULTS.outboxMaxBytes,
      batchMaxBytes: options.batchMaxBytes ?? DEFAULTS.batchMaxBytes,
      replyErrorRetries: options.replyErrorRetries ?? DEFAULTS.replyErrorRetries,
      cleanupLockTtlMs: options.cleanupLockTtlMs ?? DEFAULTS.cleanupLockTtlMs,
      claimTimeoutMs: options.claimTimeoutMs ?? DEFAULTS.claimTimeoutMs,
      forgetAfterMs: options.forgetAfterMs ?? DEFAULTS.forgetAfterMs,
      reconnectInitialMs: options.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs,
      reconnectMaxMs: options.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      stopFlushTimeoutMs: options.stopFlushTimeoutMs ?? DEFAULTS.stopFlushTimeoutMs,
    };
    if (!(o.nodeTimeoutMs > o.heartbeatIntervalMs)) {
      throw new RangeError(
        `nodeTimeoutMs (${o.nodeTimeoutMs}) must be greater than heartbeatIntervalMs (${o.heartbeatIntervalMs})`,
      );
    }
    this.o = o;
    this.keys = new ClusterKeys(o.prefix);
    const settings = { ...o, ...(options.redisOptions ? { redisOptions: options.redisOptions } : {}) };
    this.main = makeClient(settings, 'main', this.logger);
    this.reader = makeClient(
      { ...settings, commandTimeoutMs: o.commandTimeoutMs + o.readBlockMs },
      'inbox',
      this.logger,
    );
    this.sub = makeClient(settings, 'events', this.logger, true);
    this.membership = new Membership(this.node, o.nodeTimeoutMs);
    this.transport = new Transport(
      this.node,
      this.token,
      this.keys,
      this.main,
      this.reader,
      this.system.codecs,
      this.logger,
      o,
      {
        accept: (from, token) => this.accept(from, token),
        receive: (from, signal) => this.port?.receive(from, signal),
        resetPair: (node) => this.port?.nodeDown(node),
      },
    );
  }

  /**
   * Joins the cluster: connects, claims the system's node name, attaches the distribution to the
   * system, reads the membership and starts the heartbeat and the inbox. When the name's holder
   * has a fresh heartbeat, it waits once until that heartbeat would have expired (a restart right
   * after a crash) and rejects with `NodeNameTakenError` if it is still fresh then (a live node
   * holds the name). Rejects with `ClaimTimeoutError` when a survivor is
   * still cleaning this name's previous incarnation after `claimTimeoutMs`, and
   * `ClusterUnavailableError` when Redis cannot be reached.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      await cluster.connect();
      const claimedAt = await cluster.claim();
      cluster.attach(claimedAt);
      await cluster.beat();
    } catch (error) {
      cluster.state = 'stopped';
      await cluster.closeClients();
      throw error;
    }
    cluster.transport.start();
    cluster.scheduleBeat();
    return cluster;
  }

  get status(): ClusterStatus {
    return this.state;
  }

  /** The other nodes that are up (`nodes()`). */
  nodes(): string[] {
    return this.membership.nodes();
  }

  isUp(node: string): boolean {
    return node === this.node || this.membership.isUp(node);
  }

  /** Transport counters (sent, received, lost, dropped, duplicates, undecodable). */
  get stats(): Readonly<TransportStats> {
    return this.transport.stats;
  }

  /** `net_kernel:monitor_nodes(true)`: `listener` gets every later `nodeup` / `nodedown`. Returns the off switch. */
  monitorNodes(listener: (event: NodeEvent) => void): () => void {
    this.monitors.add(listener);
    return () => this.monitors.delete(listener);
  }

  /**
   * Adds a node-down clean-up (see {@link NodeCleanup}); clean-ups run in the order added. Returns
   * a function that removes it.
   */
  addNodeCleanup(cleanup: NodeCleanup): () => void {
    this.cleanups.push(cleanup);
    return () => {
      const i = this.cleanups.indexOf(cleanup);
      if (i >= 0) this.cleanups.splice(i, 1);
    };
  }

  /**
   * Called when this node loses its name while running (`NodeNameLostError`): by then it has
   * left the cluster (every remote relation fired `noconnection`). The owner should stop the
   * node. Without a listener the error is logged.
   */
  onFatal(listener: (error: NodeNameLostError) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  /**
   * Leaves the cluster: waits (up to `stopFlushTimeoutMs`) for queued signals to reach Redis,
   * marks this node down (the others see `nodedown` at once and run the clean-up, which finds
   * nothing once the node's sessions are closed), detaches the distribution and disconnects.
   */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.cancelBeat();
    await this.beating;
    await this.transport.drained(this.o.stopFlushTimeoutMs);
    if (this.main.status === 'ready') {
      await this.main
        .eval(LEAVE, 1, this.keys.members, this.node, this.token, this.keys.channel)
        .catch((error: unknown) => this.logger.warn({ err: error }, 'cluster: could not announce the leave'));
    }
    this.leave('disconnected');
    await this.cleanupChain;
    await this.closeClients();
    this.state = 'stopped';
  }

  // ---- the distribution carrier ------------------------------------------------------------------

  private attach(claimedAt: number): void {
    const carrier: Distribution = {
      isUp: (node) => this.membership.isUp(node),
      nodes: () => this.membership.nodes(),
      deliver: (node, signal) => this.deliver(node, signal),
    };
    this.port = this.system.attachDistribution(carrier);
    // Erlang's Creation: ids of this incarnation start above any its predecessors handed out.
    this.port.reserveIds(claimedAt * 1000);
  }

  private deliver(node: string, signal: DistSignal): void {
    if (this.state !== 'running') return;
    if (!this.membership.isUp(node)) {
      // Encoded anyway: an unencodable message is the sender's error whatever the membership.
      this.transport.validate(signal);
      this.transport.skip(node);
      return;
    }
    this.transport.deliver(node, signal);
  }

  /** A batch from `from`'s incarnation `token`: dropped if that incarnation was seen down; else proof it is up. */
  private accept(from: string, token: string): boolean {
    const heard = this.membership.heardFrom(from, token);
    if (heard === 'stale') return false;
    if (heard.length > 0) this.handle(heard);
    return true;
  }

  // ---- membership ----------------------------------------------------------------------------

  private async connect(): Promise<void> {
    try {
      await Promise.all([this.main.connect(), this.reader.connect(), this.sub.connect()]);
      this.sub.on('message', (_channel: string, message: string) => this.onAnnouncement(message));
      await this.sub.subscribe(this.keys.channel);
    } catch (cause) {
      throw new ClusterUnavailableError('start', { cause });
    }
    this.main.on('ready', () => {
      if (this.state === 'running') this.transport.resume();
    });
    this.main.on('close', () => {
      if (this.state !== 'running') return;
      this.membership.connectionLost();
      if (this.lostAt === undefined) {
        this.lostAt = this.clock.now();
        this.logger.warn(
          { node: this.node },
          'cluster: redis lost; membership kept as it was until it is back',
        );
      }
    });
  }

  /** Claims the name; returns the server time of the claim. */
  private async claim(): Promise<number> {
    const started = this.clock.now();
    let waitedForHolder = false;
    for (;;) {
      let reply: unknown[];
      try {
        reply = (await this.main.eval(
          CLAIM,
          3,
          this.keys.members,
          this.keys.inbox(this.node),
          this.keys.epoch,
          this.node,
          this.token,
          this.o.nodeTimeoutMs,
          this.keys.channel,
          this.keys.lockPrefix,
          randomUUID(),
          '1',
        )) as unknown[];
      } catch (cause) {
        throw new ClusterUnavailableError('claim', { cause });
      }
      switch (reply[0]) {
        case 'ok':
          this.epoch = String(reply[2]);
          return Number(reply[1]);
        case 'taken': {
          // A node restarted right after a crash finds its previous incarnation's heartbeat still
          // fresh: wait once until it would have expired. If it is still fresh then, it is live.
          const age = Number(reply[2]);
          if (waitedForHolder) throw new NodeNameTakenError(this.node, age);
          waitedForHolder = true;
          this.logger.info(
            { node: this.node, heartbeatAgeMs: age },
            'cluster: name held; waiting to see whether its holder is alive',
          );
          await new Promise<void>((resolve) =>
            this.clock.setTimeout(resolve, this.o.nodeTimeoutMs - age + this.o.heartbeatIntervalMs),
          );
          break;
        }
        default: {
          // 'cleaning': a survivor is cleaning this name's previous incarnation.
          const waited = this.clock.now() - started;
          if (waited >= this.o.claimTimeoutMs) throw new ClaimTimeoutError(this.node, Math.round(waited));
          if (waited === 0) {
            this.logger.info(
              { node: this.node },
              'cluster: waiting for the clean-up of the previous incarnation',
            );
          }
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 200));
        }
      }
    }
  }

  private scheduleBeat(): void {
    if (this.state !== 'running') return;
    this.beatTimer = this.clock.setTimeout(() => {
      this.beatTimer = undefined;
      this.beating = this.beat().finally(() => {
        this.beating = undefined;
        this.scheduleBeat();
      });
    }, this.o.heartbeatIntervalMs);
    if (this.beatTimer !== undefined) this.clock.unref?.(this.beatTimer);
  }

  private cancelBeat(): void {
    if (this.beatTimer !== undefined) this.clock.clearTimeout(this.beatTimer);
    this.beatTimer = undefined;
  }

  /** One heartbeat and membership read; never rejects. */
  private async beat(): Promise<void> {
    if (this.state !== 'running') return;
    let reply: unknown[];
    try {
      reply = (await this.main.eval(
        BEAT,
        2,
        this.keys.members,
        this.keys.epoch,
        this.node,
        this.token,
        this.epoch,
        this.o.forgetAfterMs,
      )) as unknown[];
    } catch (error) {
      this.membership.connectionLost();
      this.logger.debug({ err: error }, 'cluster: heartbeat failed');
      return;
    }
    if (this.state !== 'running') return;
    const now = Number(reply[1]);
    switch (reply[0]) {
      case 'ok': {
        if (this.lostAt !== undefined) {
          this.logger.info({ node: this.node }, 'cluster: redis is back');
          this.lostAt = undefined;
        }
        this.membership.beatOk(now);
        const { events, dead } = this.membership.applyScan(now, parseEntries(reply.slice(2)));
        this.handle(events);
        for (const e of dead) this.queueCleanup(e);
        this.transport.trim();
        return;
      }
      case 'reset':
        await this.onReset();
        return;
      case 'taken':
        this.fatal('taken');
        return;
      case 'down':
        this.fatal('declared-down');
        return;
      default:
        this.fatal('gone');
    }
  }

  /**
   * Redis lost its data (restarted empty, or flushed): every in-flight signal may be gone, so every
   * pair is reset (`noconnection` for every remote relation), and the name is claimed again.
   */
  private async onReset(): Promise<void> {
    this.logger.warn({ node: this.node }, 'cluster: redis lost its data; claiming the name again');
    this.handle(this.membership.clear());
    this.transport.reset();
    try {
      const reply = (await this.main.eval(
        CLAIM,
        3,
        this.keys.members,
        this.keys.inbox(this.node),
        this.keys.epoch,
        this.node,
        this.token,
        this.o.nodeTimeoutMs,
        this.keys.channel,
        this.keys.lockPrefix,
        randomUUID(),
        '0',
      )) as unknown[];
      if (reply[0] === 'ok') this.epoch = String(reply[2]);
      else if (reply[0] === 'taken') this.fatal('taken');
    } catch (error) {
      this.logger.debug({ err: error }, 'cluster: re-claim failed; retried at the next heartbeat');
    }
  }

  private onAnnouncement(message: string): void {
    if (this.state !== 'running') return;
    const [kind, node, token] = message.split('\n');
    if (node === undefined || token === undefined || node === this.node) return;
    this.handle(
      kind === 'up' ? this.membership.announcedUp(node, token) : this.membership.announcedDown(node, token),
    );
  }

  private handle(events: readonly MembershipEvent[]): void {
    for (const e of events) {
      if (e.type === 'nodedown') {
        this.transport.dropNode(e.node);
        this.port?.nodeDown(e.node);
        this.logger.info({ node: e.node, reason: e.reason }, 'cluster: nodedown');
      } else {
        this.transport.nodeUp(e.node);
        this.logger.info({ node: e.node }, 'cluster: nodeup');
      }
      const event: NodeEvent =
        e.type === 'nodeup'
          ? { type: 'nodeup', node: e.node }
          : { type: 'nodedown', node: e.node, reason: e.reason };
      for (const listener of this.monitors) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error({ err: error }, 'cluster: node monitor threw');
        }
      }
    }
  }

  private fatal(why: NodeNameLostError['why']): void {
    if (this.state !== 'running') return;
    const error = new NodeNameLostError(this.node, why);
    this.state = 'stopping';
    this.cancelBeat();
    this.leave('disconnected');
    void this.closeClients().then(() => {
      this.state = 'stopped';
    });
    if (this.fatalListeners.size === 0) this.logger.error({ err: error }, 'cluster: this node lost its name');
    for (const listener of this.fatalListeners) {
      try {
        listener(error);
      } catch (e) {
        this.logger.error({ err: e }, 'cluster: fatal listener threw');
      }
    }
  }

  /** Every other node counts as down here, and the distribution is detached. */
  private leave(_reason: NodeDownReason): void {
    this.handle(this.membership.clear());
    this.port?.detach();
    this.port = undefined;
  }

  private async closeClients(): Promise<void> {
    this.cancelBeat();
    const readerDone = this.transport.stop();
    await Promise.all([closeClient(this.main), closeClient(this.reader), closeClient(this.sub)]);
    await readerDone;
  }

  // ---- node-down clean-up ------------------------------------------------------------------------

  private queueCleanup(e: MemberEntry): void {
    const key = `${e.node}\n${e.token}`;
    if (this.cleaning.has(key)) return;
    this.cleaning.add(key);
    this.cleanupChain = this.cleanupChain
      .then(() => this.cleanUp(e))
      .catch((error: unknown) => this.logger.error({ err: error, node: e.node }, 'cluster: clean-up failed'))
      .finally(() => this.cleaning.delete(key));
  }

  /** Takes the lock of a dead incarnation and, if this node got it, runs the clean-ups. */
  private async cleanUp(e: MemberEntry): Promise<void> {
    if (this.state !== 'running') return;
    const lockKey = this.keys.lock(e.node, e.token);
    const owner = `${this.node}\n${this.token}`;
    const ttl = this.o.cleanupLockTtlMs;
    const got = await this.main.eval(
      LOCK,
      2,
      this.keys.members,
      lockKey,
      e.node,
      e.token,
      this.o.nodeTimeoutMs,
      ttl,
      owner,
      this.keys.channel,
    );
    if (got !== 'ok') return;
    // The lock is ours: make sure the node counts as down here before its rows go.
    this.handle(this.membership.announcedDown(e.node, e.token));
    const abort = new AbortController();
    let renewal: TimerHandle | undefined;
    const renew = (): void => {
      renewal = this.clock.setTimeout(() => {
        this.main.eval(RENEW, 1, lockKey, owner, ttl).then(
          (ok) => {
            if (ok === 1) renew();
            else abort.abort(new Error('clean-up lock lost'));
          },
          () => renew(), // Redis away: try again; the lock expires by itself if it stays away
        );
      }, ttl / 3);
    };
    renew();
    let failed = false;
    const started = this.clock.now();
    try {
      for (const cleanup of [...this.cleanups]) {
        if (abort.signal.aborted) break;
        try {
          await cleanup(e.node, { signal: abort.signal });
        } catch (error) {
          failed = true;
          this.logger.error(
            { err: error, node: e.node },
            'cluster: a node clean-up failed; another try later',
          );
        }
      }
    } finally {
      if (renewal !== undefined) this.clock.clearTimeout(renewal);
    }
    if (failed || abort.signal.aborted) {
      await this.main.eval(RELEASE, 1, lockKey, owner).catch(() => {});
      return;
    }
    await this.main.eval(
      DONE,
      3,
      this.keys.members,
      lockKey,
      this.keys.inbox(e.node),
      e.node,
      e.token,
      owner,
    );
    this.logger.info(
      { node: e.node, ms: Math.round(this.clock.now() - started) },
      'cluster: cleaned up after a dead node',
    );
  }
}
