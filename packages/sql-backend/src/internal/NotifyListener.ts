import type { Logger } from '@otp-chat/actor';
import postgres from 'postgres';
import { BackendUnavailableError, SqlCommandError, SqlTimeoutError } from '../errors.ts';
import { isUnavailableError, sqlStateOf } from './classify.ts';

export interface NotifyListenerOptions {
  readonly url: string;
  /** A channel name the caller built from checked parts (quoted here). */
  readonly channel: string;
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** Interval of the `SELECT 1` that detects a connection that died without closing. */
  readonly heartbeatMs: number;
  readonly logger: Logger;
  onNotify(payload: string): void;
  /** Listening (again): notifications sent from now on arrive. */
  onUp(): void;
  /** The connection is lost: notifications may be missed until the next `onUp`. */
  onDown(): void;
}

/**
 * A dedicated connection that runs `LISTEN <channel>`, and tells its owner whether it is listening.
 * When the connection is lost (closed, or a heartbeat unanswered) it reconnects with exponential
 * backoff on a fresh connection and listens again. The owner uses `onDown` / `onUp` as the
 * database's health: caches off and writes waiting while down, replay when up.
 */
export class NotifyListener {
  private sql: postgres.Sql | undefined;
  private up = false;
  private stopped = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: NotifyListenerOptions) {}

  get isUp(): boolean {
    return this.up;
  }

  /**
   * Connects and listens; rejects when the first attempt fails (then nothing keeps running), with
   * `BackendUnavailableError` (unreachable, too slow) or `SqlCommandError` (`LISTEN` refused).
   */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.attempt();
    } catch (error) {
      await this.stop();
      const name = this.options.name;
      if (error instanceof SqlTimeoutError || isUnavailableError(error)) {
        throw new BackendUnavailableError(name, 'init', { cause: error });
      }
      throw new SqlCommandError(name, 'init', sqlStateOf(error), { cause: error });
    }
  }

  /** Stops listening and closes the connection; no reconnect follows. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.up = false;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.retryTimer = undefined;
    this.heartbeat = undefined;
    const sql = this.sql;
    this.sql = undefined;
    if (sql !== undefined) await sql.end({ timeout: 0 }).catch(() => {});
  }

  private async attempt(): Promise<void> {
    const o = this.options;
    const sql: postgres.Sql = postgres(o.url, {
      max: 1,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: o.connectTimeoutMs / 1000,
      connection: { application_name: 'otp-chat-listen' },
      onnotice: () => {},
      onnotify: (_channel: string, payload: string) => {
        if (this.sql === sql) o.onNotify(payload);
      },
      onclose: () => this.lost(sql),
    } as postgres.Options<Record<string, never>>);
    this.sql = sql;
    try {
      await withTimeout(sql.unsafe(`LISTEN "${o.channel}"`), o.connectTimeoutMs + 1000);
    } catch (error) {
      this.lost(sql);
      throw error;
    }
    if (this.sql !== sql || this.stopped) return;
    this.up = true;
    this.attempts = 0;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      withTimeout(sql.unsafe('SELECT 1'), o.heartbeatMs).catch(() => this.lost(sql));
    }, o.heartbeatMs);
    this.heartbeat.unref?.();
    o.onUp();
  }

  private lost(sql: postgres.Sql): void {
    if (this.sql !== sql) return;
    this.sql = undefined;
    void sql.end({ timeout: 0 }).catch(() => {});
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.stopped) return;
    if (this.up) {
      this.up = false;
      this.options.logger.warn({ backend: this.options.name }, 'postgres notification connection lost');
      this.options.onDown();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.retryTimer !== undefined || this.sql !== undefined) return;
    const o = this.options;
    const delay = Math.min(o.reconnectInitialMs * 2 ** Math.min(this.attempts, 20), o.reconnectMaxMs);
    this.attempts++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      this.attempt().catch((error: unknown) => {
        o.logger.debug({ backend: o.name, err: error }, 'postgres notification connection: retry failed');
        this.schedule();
      });
    }, delay);
    this.retryTimer.unref?.();
  }
}

function withTimeout<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SqlTimeoutError('listen', ms)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
