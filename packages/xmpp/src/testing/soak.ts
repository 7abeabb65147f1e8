import { connect, type Socket } from 'node:net';
import { plainAuth, startTags, streamOpen } from './RawClient.ts';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 'localhost' */
  readonly domain?: string;
  /** One session per user, each logged in with `password(user)`. */
  readonly users: readonly string[];
  readonly password: (user: string) => string;
  /** The first `nonReading` users stop reading once logged in (and read again after the flood). */
  readonly nonReading: number;
  /** The flood lasts at most this long… */
  readonly durationMs: number;
  /** …and sends at most this many messages. */
  readonly maxMessages: number;
  /** Messages per second each reading session sends (`Infinity`: as fast as its socket takes them). */
  readonly ratePerSender: number;
  /** Body size of each message. */
  readonly bodyBytes: number;
  /** The share of messages addressed to the non-reading sessions. */
  readonly toNonReading: number;
  /** The ids the server stored offline (asked after the flood, until every message is accounted for). */
  readonly offlineIds: () => Promise<readonly string[]> | readonly string[];
  /** How long to wait, after the flood, for every message to be accounted for. @default 30000 */
  readonly settleTimeoutMs?: number;
  /** Called every tick of the flood (20 ms) with the elapsed time (e.g. to sample memory). */
  readonly onTick?: (elapsedMs: number) => void;
  /** Logins in flight at once. @default 20 */
  readonly loginConcurrency?: number;
}

/** What became of every message sent. */
export interface SoakReport {
  readonly sessions: number;
  readonly nonReading: number;
  readonly floodMs: number;
  readonly sent: number;
  /** Received by the session it was sent to (unique ids). */
  readonly delivered: number;
  /** In the server's offline store at the end. */
  readonly offline: number;
  /** Answered with an error to its sender. */
  readonly bounced: number;
  /** Ids received more than once, or received and also stored or bounced (a stanza re-routed after the client took part of it). */
  readonly duplicates: number;
  /** Sent and never delivered, stored nor bounced. Must be 0. */
  readonly missing: number;
  /** The first missing ids, each with its recipient (`s3-131→u0`). */
  readonly missingIds: readonly string[];
  /** Non-reading sessions the server closed (a full send queue). */
  readonly closedNonReading: number;
  /** Reading sessions the server closed (should be 0). */
  readonly closedReading: number;
  /** Error conditions received by senders, with their counts. */
  readonly bounceConditions: Readonly<Record<string, number>>;
}

const MESSAGE_ID = /^s\d+-\d+$/;

/** One session: logs in with PLAIN, then counts the messages it receives, without keeping them. */
class SoakSession {
  private buffer = '';
  private loggedIn = false;
  private loginText = '';
  private waiter: (() => void) | undefined;
  readonly delivered = new Map<string, number>();
  readonly bounced: string[] = [];
  readonly conditions = new Map<string, number>();
  closedByServer = false;
  closed = false;
  private closing = false;
  jid = '';

  constructor(
    readonly user: string,
    readonly socket: Socket,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      if (!this.closing) this.closedByServer = true;
      this.waiter?.();
    });
  }

  private receive(chunk: string): void {
    if (!this.loggedIn) {
      this.loginText += chunk;
      this.waiter?.();
      return;
    }
    this.buffer += chunk;
    const last = this.buffer.lastIndexOf('>');
    if (last < 0) return;
    const done = this.buffer.slice(0, last + 1);
    this.buffer = this.buffer.slice(last + 1);
    for (const attrs of startTags(done, 'message')) {
      const id = attrs.id ?? '';
      if (!MESSAGE_ID.test(id)) continue;
      if (attrs.type === 'error') this.bounced.push(id);
      else this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
    }
    if (done.includes('type="error"')) {
      for (const m of done.matchAll(/<([a-z-]+) xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/g)) {
        this.conditions.set(m[1]!, (this.conditions.get(m[1]!) ?? 0) + 1);
      }
    }
  }

  private until(predicate: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          this.waiter = undefined;
          resolve();
        } else if (this.closed) {
          this.waiter = undefined;
          reject(new Error(`${this.user}: closed during login: ${this.loginText.slice(-300)}`));
        }
      };
      this.waiter = check;
      check();
    });
  }

  async login(password: string, domain: string): Promise<void> {
    this.socket.write(streamOpen(domain) + plainAuth(this.user, password));
    await this.until(() => this.loginText.includes('<success') || this.loginText.includes('<failure'));
    if (!this.loginText.includes('<success')) throw new Error(`${this.user}: login refused`);
    this.socket.write(
      `${streamOpen(domain)}<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>soak</resource></bind></iq><presence/>`,
    );
    // The bind result, then the echo of the available presence.
    await this.until(() => /<jid>[^<]*<\/jid>[\s\S]*<presence/.test(this.loginText));
    this.jid = /<jid>([^<]*)<\/jid>/.exec(this.loginText)![1]!;
    this.loggedIn = true;
    this.loginText = '';
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.closed) return Promise.resolve();
    this.socket.end('</stream:stream>');
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/**
 * A soak of a running server: `users.length` sessions log in; the first `nonReading` stop reading;
 * every other one sends chat messages (a share of them to the non-reading sessions) for
 * `durationMs` or `maxMessages`; then the non-reading sessions read again, and the driver waits
 * until every message sent is accounted for: delivered to its recipient, stored offline (asked to
 * the server through `offlineIds`), or answered with an error to its sender. None may be missing.
 * Every loop is bounded in count and time.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const host = options.host ?? '127.0.0.1';
  const domain = options.domain ?? 'localhost';
  const sessions: SoakSession[] = [];
  const concurrency = options.loginConcurrency ?? 20;
  try {
    for (let i = 0; i < options.users.length; i += concurrency) {
      const batch = options.users.slice(i, i + concurrency);
      await Promise.all(
        batch.map(async (user) => {
          const socket = connect(options.port, host);
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', resolve);
            socket.once('error', reject);
          });
          const s = new SoakSession(user, socket);
          sessions.push(s);
          await s.login(options.password(user), domain);
        }),
      );
    }
    const byUser = new Map(sessions.map((s) => [s.user, s]));
    const ordered = options.users.map((u) => byUser.get(u)!);
    const quiet = ordered.slice(0, options.nonReading);
    const readers = ordered.slice(options.nonReading);
    for (const s of quiet) s.socket.pause();

    // The flood.
    const body = 'x'.repeat(options.bodyBytes);
    const sentIds: string[] = [];
    const recipient = new Map<string, string>();
    const counters = new Array<number>(readers.length).fill(0);
    const credit = new Array<number>(readers.length).fill(0);
    const t0 = performance.now();
    let last = t0;
    let seed = 0x2f6b;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    while (sentIds.length < options.maxMessages) {
      const now = performance.now();
      const elapsed = now - t0;
      if (elapsed >= options.durationMs) break;
      const dt = (now - last) / 1000;
      last = now;
      for (let r = 0; r < readers.length && sentIds.length < options.maxMessages; r++) {
        const s = readers[r]!;
        if (s.closed) continue;
        // The sender waits while its own socket has not taken the last batch (the server shapes it).
        if (s.socket.writableLength > 64 * 1024) continue;
        credit[r] = Number.isFinite(options.ratePerSender) ? credit[r]! + options.ratePerSender * dt : 16;
        let batch = '';
        while (credit[r]! >= 1 && sentIds.length < options.maxMessages) {
          credit[r]! -= 1;
          const toQuiet = quiet.length > 0 && random() < options.toNonReading;
          const pool = toQuiet ? quiet : readers;
          const to = pool[Math.floor(random() * pool.length)]!;
          const id = `s${r}-${counters[r]!++}`;
          sentIds.push(id);
          recipient.set(id, to.user);
          batch += `<message to='${to.user}@${domain}' type='chat' id='${id}'><body>${body}</body></message>`;
        }
        if (batch !== '') s.socket.write(batch);
      }
      options.onTick?.(elapsed);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const floodMs = performance.now() - t0;
    for (const s of quiet) s.socket.resume();

    // Accounting: until every id has a fate, or the settle timeout.
    const deadline = performance.now() + (options.settleTimeoutMs ?? 30_000);
    const account = async () => {
      const delivered = new Map<string, number>();
      for (const s of sessions)
        for (const [id, n] of s.delivered) delivered.set(id, (delivered.get(id) ?? 0) + n);
      const bounced = new Set<string>();
      for (const s of sessions) for (const id of s.bounced) bounced.add(id);
      const offline = new Set((await options.offlineIds()).filter((id) => MESSAGE_ID.test(id)));
      let duplicates = 0;
      for (const [id, n] of delivered) {
        if (n > 1) duplicates += n - 1;
        if (offline.has(id) || bounced.has(id)) duplicates++;
      }
      const missingIds = sentIds.filter((id) => !delivered.has(id) && !offline.has(id) && !bounced.has(id));
      return { delivered, bounced, offline, duplicates, missingIds };
    };
    let a = await account();
    while (a.missingIds.length > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      a = await account();
    }
    const conditions: Record<string, number> = {};
    for (const s of sessions) for (const [c, n] of s.conditions) conditions[c] = (conditions[c] ?? 0) + n;
    return {
      sessions: sessions.length,
      nonReading: quiet.length,
      floodMs,
      sent: sentIds.length,
      delivered: a.delivered.size,
      offline: a.offline.size,
      bounced: a.bounced.size,
      duplicates: a.duplicates,
      missing: a.missingIds.length,
      missingIds: a.missingIds.slice(0, 10).map((id) => `${id}→${recipient.get(id)}`),
      closedNonReading: quiet.filter((s) => s.closedByServer).length,
      closedReading: readers.filter((s) => s.closedByServer).length,
      bounceConditions: conditions,
    };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}
