import type { CodecRegistry, DistSignal, Logger } from '@otp-chat/actor';
import type { Redis } from 'ioredis';
import type { ClusterKeys } from '../ClusterKeys.ts';
import { decodeSignal, encodeSignal, type WireSignal } from './wire.ts';

/** What the transport needs to know of its settings. */
export interface TransportOptions {
  readonly batchMaxMessages: number;
  readonly batchesInFlight: number;
  readonly readCount: number;
  readonly readBlockMs: number;
  readonly inboxMaxLen: number;
  readonly outboxMaxMessages: number;
  readonly outboxMaxBytes: number;
  readonly batchMaxBytes: number;
  readonly replyErrorRetries: number;
}

/** Counters, for tests, benchmarks and operators. */
export interface TransportStats {
  /** Signals Redis acknowledged (XADD answered). */
  sent: number;
  /** Signals delivered to this node's kernel. */
  received: number;
  /**
   * Signals of other nodes this node never got: gaps in their sequence, seen when a later batch
   * arrives. Redis trimmed or lost them after acknowledging them, or their sender dropped them.
   */
  lost: number;
  /**
   * Signals this node gave up before Redis acknowledged them: to a node that was down, queued for
   * a node when it went down (or when Redis lost its data), beyond a full outbox, or refused by
   * Redis. Each leaves a gap in this node's sequence to that node, which the receiver counts as
   * `lost` (and answers with a reset of the pair) when it next hears from this node.
   */
  dropped: number;
  /** Batches received twice (a retried XADD that had been applied) and skipped. */
  duplicates: number;
  /** Signals that could not be decoded (skipped, logged). */
  undecodable: number;
}

/** The callbacks into the cluster. */
export interface TransportHost {
  /**
   * A batch from `from`'s incarnation `token` arrived: false when that incarnation was seen down
   * (the batch is dropped); else it counts as up. Once per batch.
   */
  accept(from: string, token: string): boolean;
  /** A signal from `from`, decoded. */
  receive(from: string, signal: DistSignal): void;
  /** The pair with `node` lost signals: reset its links, monitors and calls. */
  resetPair(node: string): void;
}

/**
 * This node's sequence towards one node name, kept across that node's ups and downs (and Redis
 * losing its data), so that whatever was dropped in between shows as a gap to the receiver.
 */
interface Sequence {
  /** Batches made so far. */
  n: number;
  /** Signals put into batches or dropped so far. */
  k: number;
  /** `k` at the end of the last batch made: below `k`, signals were dropped since. */
  told: number;
}

/** One batch of signals for one destination, written with one XADD. */
interface Batch {
  readonly text: string;
  readonly count: number;
  readonly n: number;
  readonly k: number;
  readonly reset: boolean;
  /** The outbox generation it was last written in (-1: not written yet in this one). */
  gen: number;
  /** Its XADD of the current generation is waiting for an answer. */
  inFlight: boolean;
}

/**
 * One destination's queue: signals in order, then batches in order, up to `batchesInFlight` of
 * them written and not yet acknowledged. Redis runs one connection's commands in order, so the
 * stream gets them in order; when one fails, every unacknowledged batch is written again, in
 * order, in a new generation (the receiver skips the ones it already has).
 */
interface Outbox {
  readonly node: string;
  readonly key: string;
  readonly seq: Sequence;
  /** Each queued signal as its JSON text (encoded when sent, so its size is known). */
  queue: string[];
  /** Characters queued (the JSON texts' lengths). */
  queuedBytes: number;
  head: number;
  /** Batches made and not acknowledged, in order. */
  batches: Batch[];
  inFlight: number;
  gen: number;
  replyErrors: number;
  /** The next batch asks the receiver to reset the pair. */
  reset: boolean;
  /** A batch must go even if empty: it tells the receiver of signals dropped since the last one. */
  sync: boolean;
}

/** The inbox reader yields to the event loop after this long of delivering. */
const YIELD_AFTER_MS = 2;

/** Sequences and incoming states remembered at most (the oldest are forgotten first). */
const MAX_PEERS = 10_000;

/** What this node knows of one sender's incarnation. */
interface Incoming {
  nextN: number;
  nextK: number;
}

/**
 * Signals between nodes over Redis Streams: one stream per node (its inbox). A sender queues what
 * it sends to each node and writes it as batches (`XADD … MAXLEN ~`, a few in flight per
 * destination on one connection, which Redis runs in order), so order per sender→receiver pair is
 * the order of `deliver` calls; batches that failed because Redis went away are written again, in
 * order, when it is back. Each batch carries the sender's
 * incarnation, a batch number and the count of signals before it, so the receiver skips a batch it
 * already has (a retried XADD that had been applied) and sees a gap (signals Redis trimmed or lost)
 * instead of missing it. The receiver reads its inbox with blocking `XREAD` on its own connection,
 * resumes from the last id after a reconnection, and trims what it read.
 */
export class Transport {
  readonly stats: TransportStats = {
    sent: 0,
    received: 0,
    lost: 0,
    dropped: 0,
    duplicates: 0,
    undecodable: 0,
  };
  private readonly outboxes = new Map<string, Outbox>();
  private readonly sequences = new Map<string, Sequence>();
  private readonly incoming = new Map<string, Incoming>();
  private readonly inboxKey: string;
  private lastId = '0';
  private trimmedTo = '0';
  private running = false;
  private readerDone: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private readonly dirty = new Set<Outbox>();
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly self: string,
    private readonly token: string,
    private readonly keys: ClusterKeys,
    private readonly main: Redis,
    private readonly reader: Redis,
    private readonly codecs: CodecRegistry,
    private readonly logger: Logger,
    private readonly options: TransportOptions,
    private readonly host: TransportHost,
  ) {
    this.inboxKey = keys.inbox(self);
  }

  /** Queues `signal` for `node`; throws `UnencodableMessageError` (nothing queued) when it cannot cross. */
  deliver(node: string, signal: DistSignal): void {
    this.enqueue(node, encodeSignal(this.codecs, signal));
  }

  /** Encodes `signal` without sending it: throws `UnencodableMessageError` as `deliver` would. */
  validate(signal: DistSignal): void {
    encodeSignal(this.codecs, signal);
  }

  /**
   * Asks `node` to reset the pair (this node lost signals from it): a flag on the next batch to
   * it, outside the sequence of signals (an empty batch when nothing else is queued).
   */
  requestReset(node: string): void {
    const box = this.outbox(node);
    box.reset = true;
    this.dirty.add(box);
    this.scheduleFlush();
  }

  /**
   * `node` is up (again): if signals to it were dropped since the last batch, an empty batch tells
   * it at once (it counts them as lost and resets the pair) instead of with the next signal.
   */
  nodeUp(node: string): void {
    const seq = this.sequences.get(node);
    if (seq === undefined || seq.k === seq.told) return;
    const box = this.outbox(node);
    box.sync = true;
    this.dirty.add(box);
    this.scheduleFlush();
  }

  /** A signal for a node that is down is dropped, in sequence (the receiver sees the gap). */
  skip(node: string): void {
    this.sequence(node).k++;
    this.stats.dropped++;
  }

  private sequence(node: string): Sequence {
    let seq = this.sequences.get(node);
    if (seq === undefined) {
      if (this.sequences.size >= MAX_PEERS) this.sequences.delete(this.sequences.keys().next().value!);
      seq = { n: 0, k: 0, told: 0 };
      this.sequences.set(node, seq);
    }
    return seq;
  }

  private outbox(node: string): Outbox {
    let box = this.outboxes.get(node);
    if (box === undefined) {
      box = {
        node,
        key: this.keys.inbox(node),
        seq: this.sequence(node),
        queue: [],
        queuedBytes: 0,
        head: 0,
        batches: [],
        inFlight: 0,
        gen: 0,
        replyErrors: 0,
        reset: false,
        sync: false,
      };
      this.outboxes.set(node, box);
    }
    return box;
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushDirty);
    }
  }

  private enqueue(node: string, wire: WireSignal): void {
    const box = this.outbox(node);
    const json = JSON.stringify(wire);
    if (
      box.queue.length - box.head >= this.options.outboxMaxMessages ||
      box.queuedBytes + json.length > this.options.outboxMaxBytes
    ) {
      // Full: drop, and count it into `k` so that the receiver sees the gap and resets the pair.
      box.seq.k++;
      this.stats.dropped++;
      if (this.stats.dropped % 10_000 === 1) {
        this.logger.warn({ node, dropped: this.stats.dropped }, 'cluster: outbox full; signals dropped');
      }
      return;
    }
    box.queue.push(json);
    box.queuedBytes += json.length;
    this.dirty.add(box);
    this.scheduleFlush();
  }

  private readonly flushDirty = (): void => {
    this.flushScheduled = false;
    const boxes = [...this.dirty];
    this.dirty.clear();
    for (const box of boxes) this.flush(box);
  };

  /** Makes batches of what is queued and writes them, up to `batchesInFlight`, unless Redis is away. */
  private flush(box: Outbox): void {
    if (this.outboxes.get(box.node) !== box) return;
    const max = this.options.batchesInFlight;
    while (box.batches.length < max) {
      const available = box.queue.length - box.head;
      if (available === 0 && !box.reset && !box.sync) break;
      // Up to batchMaxMessages signals and batchMaxBytes characters (one signal at least).
      const limit = Math.min(available, this.options.batchMaxMessages);
      let text = '[';
      let count = 0;
      while (count < limit) {
        const json = box.queue[box.head + count]!;
        if (count > 0 && text.length + json.length + 1 > this.options.batchMaxBytes) break;
        text += count === 0 ? json : `,${json}`;
        box.queuedBytes -= json.length;
        count++;
      }
      text += ']';
      box.head += count;
      if (box.head > 4096 && box.head * 2 > box.queue.length) {
        box.queue = box.queue.slice(box.head);
        box.head = 0;
      }
      const n = ++box.seq.n;
      box.batches.push({ text, count, n, k: box.seq.k, reset: box.reset, gen: -1, inFlight: false });
      box.seq.k += count;
      box.seq.told = box.seq.k;
      box.reset = false;
      box.sync = false;
    }
    if (box.batches.length === 0) {
      this.checkDrained();
      return;
    }
    if (this.main.status !== 'ready') return; // written on `ready`
    for (const b of box.batches) {
      if (b.gen === box.gen) continue; // written in this generation already
      this.write(box, b);
    }
  }

  private write(box: Outbox, b: Batch): void {
    const gen = box.gen;
    b.gen = gen;
    b.inFlight = true;
    box.inFlight++;
    this.main
      .xadd(
        box.key,
        'MAXLEN',
        '~',
        this.options.inboxMaxLen,
        '*',
        'f',
        this.self,
        't',
        this.token,
        'n',
        b.n,
        'k',
        b.k,
        'r',
        b.reset ? 1 : 0,
        'm',
        b.text,
      )
      .then(
        () => {
          this.settled(box, b, gen);
          const i = box.batches.indexOf(b);
          if (i < 0) return; // acknowledged already (written twice)
          box.batches.splice(i, 1);
          box.replyErrors = 0;
          this.stats.sent += b.count;
          this.flush(box);
        },
        (error: unknown) => {
          this.settled(box, b, gen);
          if (this.outboxes.get(box.node) !== box) {
            // Its node went down meanwhile: the batch is given up (it never reached Redis).
            if (!b.inFlight && box.batches.includes(b)) {
              box.batches.splice(box.batches.indexOf(b), 1);
              this.stats.dropped += b.count;
            }
            this.checkDrained();
            return;
          }
          if (!box.batches.includes(b) || gen !== box.gen) return; // a newer attempt decides
          if (
            (error as Error | undefined)?.name === 'ReplyError' &&
            ++box.replyErrors > this.options.replyErrorRetries
          ) {
            // Redis refuses it (out of memory, say): give it up; the receiver sees the gap.
            this.logger.error(
              { err: error, node: box.node, signals: b.count },
              'cluster: batch refused by redis; dropped',
            );
            this.stats.dropped += b.count;
            box.batches.splice(box.batches.indexOf(b), 1);
            box.replyErrors = 0;
          }
          // Lost connection (or no answer within commandTimeoutMs): every batch not acknowledged
          // is written again, in order, in a new generation: now if Redis is there, else on `ready`.
          box.gen++;
          if (this.main.status === 'ready') setTimeout(() => this.flush(box), 50).unref();
        },
      );
  }

  private settled(box: Outbox, b: Batch, gen: number): void {
    if (b.gen === gen && b.inFlight) {
      b.inFlight = false;
      box.inFlight--;
    }
  }

  /** Redis is back: write what waited, in order. */
  resume(): void {
    for (const box of this.outboxes.values()) this.flush(box);
  }

  /**
   * `node` is down: what waits for it is dropped (in sequence: the receiver sees the gap if it
   * comes back). A batch in flight was already counted in the sequence.
   */
  dropNode(node: string): void {
    const box = this.outboxes.get(node);
    if (box === undefined) return;
    this.outboxes.delete(node);
    const queued = box.queue.length - box.head;
    // A batch being written is counted when its XADD settles: sent, or dropped if it fails.
    let waiting = 0;
    for (const b of box.batches) if (!b.inFlight) waiting += b.count;
    box.batches = box.batches.filter((b) => b.inFlight);
    this.stats.dropped += queued + waiting;
    box.seq.k += queued;
    this.checkDrained();
  }

  /** Redis lost its data: every queue is dropped, and the inbox is read from its beginning. */
  reset(): void {
    for (const node of [...this.outboxes.keys()]) this.dropNode(node);
    this.lastId = '0';
    this.trimmedTo = '0';
  }

  /** Signals still waiting to reach Redis. */
  pending(): number {
    let n = 0;
    for (const box of this.outboxes.values()) {
      n += box.queue.length - box.head;
      for (const b of box.batches) n += b.count;
    }
    return n;
  }

  /** Resolves when nothing waits (or after `timeoutMs`). */
  drained(timeoutMs: number): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || this.pending() > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  // ---- the inbox ------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.readerDone = this.readLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.readerDone;
  }

  /** Trims what was read (called on each heartbeat: one command, not one per read). */
  trim(): void {
    if (this.lastId === this.trimmedTo || this.main.status !== 'ready') return;
    const to = this.lastId;
    this.main.xtrim(this.inboxKey, 'MINID', '~', to).then(
      () => {
        this.trimmedTo = to;
      },
      () => {},
    );
  }

  private async readLoop(): Promise<void> {
    const reader = this.reader;
    while (this.running) {
      if (reader.status !== 'ready') {
        await waitReady(reader, () => this.running);
        continue;
      }
      let reply: unknown;
      try {
        reply = await reader.xread(
          'COUNT',
          this.options.readCount,
          'BLOCK',
          this.options.readBlockMs,
          'STREAMS',
          this.inboxKey,
          this.lastId,
        );
      } catch (error) {
        if (!this.running) break;
        this.logger.debug({ err: error }, 'cluster: inbox read failed; retrying when redis is back');
        await waitReady(reader, () => this.running);
        continue;
      }
      if (reply === null || reply === undefined) continue;
      const streams = reply as Array<[string, Array<[string, string[]]>]>;
      let started = performance.now();
      for (const [, entries] of streams) {
        for (const [id, fields] of entries) {
          this.lastId = id;
          this.onEntry(fields);
          // Let sockets, timers and the actors that were just sent to run between batches: a long
          // synchronous run here stalls this node's own sends and reads (Erlang: reductions).
          if (performance.now() - started >= YIELD_AFTER_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            started = performance.now();
          }
        }
      }
    }
  }

  private onEntry(fields: readonly string[]): void {
    let from = '';
    let token = '';
    let n = 0;
    let k = 0;
    let reset = false;
    let text = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const v = fields[i + 1]!;
      switch (fields[i]) {
        case 'f':
          from = v;
          break;
        case 't':
          token = v;
          break;
        case 'n':
          n = Number(v);
          break;
        case 'k':
          k = Number(v);
          break;
        case 'r':
          reset = v === '1';
          break;
        case 'm':
          text = v;
          break;
      }
    }
    if (from === '' || !this.host.accept(from, token)) return;
    const key = `${from}\n${token}`;
    const seen = this.incoming.get(key);
    if (seen !== undefined && n < seen.nextN) {
      this.stats.duplicates++;
      return;
    }
    let signals: unknown[];
    try {
      signals = JSON.parse(text) as unknown[];
    } catch (error) {
      this.logger.error({ err: error, from }, 'cluster: unreadable batch skipped');
      this.stats.undecodable++;
      return;
    }
    if (seen !== undefined && k > seen.nextK) {
      const lost = k - seen.nextK;
      this.stats.lost += lost;
      this.logger.warn({ from, lost }, 'cluster: signals from a node were lost; resetting the pair');
      this.host.resetPair(from);
      this.requestReset(from);
    }
    if (seen === undefined && this.incoming.size >= MAX_PEERS) {
      this.incoming.delete(this.incoming.keys().next().value!);
    }
    this.incoming.set(key, { nextN: n + 1, nextK: k + signals.length });
    // The peer lost signals from this node and reset its side: reset this side before the batch.
    if (reset) this.host.resetPair(from);
    for (const w of signals) {
      if (!Array.isArray(w)) continue;
      let signal: DistSignal;
      try {
        signal = decodeSignal(this.codecs, w, from, this.self);
      } catch (error) {
        this.stats.undecodable++;
        this.logger.error({ err: error, from }, 'cluster: undecodable signal skipped');
        continue;
      }
      this.host.receive(from, signal);
      this.stats.received++;
    }
  }
}

/** Resolves when `client` is ready again, or soon after `alive()` turns false. */
function waitReady(client: Redis, alive: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (client.status === 'ready' || !alive()) {
      resolve();
      return;
    }
    const done = (): void => {
      clearInterval(poll);
      client.off('ready', done);
      resolve();
    };
    // The poll ends the wait when the transport stops (the client then never becomes ready).
    const poll = setInterval(() => {
      if (!alive() || client.status === 'ready' || client.status === 'end') done();
    }, 100);
    poll.unref();
    client.once('ready', done);
  });
}
