import { type ActorSystem, andThen, isThenable, type Logger, type MaybePromise } from '@otp-chat/actor';
import type { EventBus } from '@otp-chat/event-bus';
import { nameprep, nodeprep, resourceprep } from '@otp-chat/jid';
import type { Backend } from '../Backend.ts';
import { BackendTimeoutError, UnknownHostError } from '../errors.ts';
import type { Session } from '../Session.ts';
import { Timeouts } from './timeouts.ts';

const EMPTY: readonly Session[] = Object.freeze([]) as readonly Session[];

/** What a per-user read answers on failure when the caller must tell a failure from "no rows" (by identity). */
export const READ_FAILED: readonly Session[] = Object.freeze([]) as readonly Session[];

/** What {@link BackendAccess} needs: the session manager's backends and where it reports. */
export interface BackendAccessOptions {
  /** The backend of each served (prepared) host at start; one backend may serve several hosts. */
  readonly byHost: ReadonlyMap<string, Backend>;
  readonly system: ActorSystem;
  readonly logger: Logger;
  /** Where `backend_error` is emitted. */
  readonly events: EventBus;
  /** Longest wait for one backend call. */
  readonly timeoutMs: number;
}

/**
 * The session manager's access to its backends, as `ejabberd_sm`'s `get_sessions/1,2,3`,
 * `set_session/1` and `delete_session/1` wrap the backend module of a host (`get_sm_backend/1`):
 * every call is timed (`BackendTimeoutError` past `timeoutMs`), every failure is reported (logged
 * and emitted as `backend_error`) and never answered as "no sessions" to a caller that must tell
 * the two apart, and every read drops and deletes the rows of dead local connections on the way
 * (`delete_dead/2`, the read-repair of `ejabberd_sm:get_sessions/3`). Calls run in the caller,
 * synchronously when the backend answers synchronously.
 */
export class BackendAccess {
  /** Longest wait for one backend call, in milliseconds. */
  readonly timeoutMs: number;
  /** The served hosts and their backends (`host_up` adds, `host_down` moves to {@link retired}). */
  private readonly byHost: Map<string, Backend>;
  /**
   * Hosts removed at run time (`host_down`) and their backends: their remaining sessions can
   * still close (and change presence) while their connections end; nothing new opens there.
   */
  private readonly retired = new Map<string, Backend>();
  private distinct: readonly Backend[];
  private hostList: readonly string[];
  private readonly node: string;
  private readonly system: ActorSystem;
  private readonly logger: Logger;
  private readonly events: EventBus;
  private readonly timeouts: Timeouts;

  constructor(options: BackendAccessOptions) {
    this.byHost = new Map(options.byHost);
    this.distinct = [...new Set(this.byHost.values())];
    this.hostList = Object.freeze([...this.byHost.keys()]);
    this.system = options.system;
    this.node = options.system.node;
    this.logger = options.logger;
    this.events = options.events;
    this.timeoutMs = options.timeoutMs;
    this.timeouts = new Timeouts(options.system.clock);
  }

  /** The backends, each once (a backend shared by several hosts is listed once), retired hosts' included. */
  get backends(): readonly Backend[] {
    return this.distinct;
  }

  /** The served hosts, in the order they came up (a new array after each change). */
  hosts(): readonly string[] {
    return this.hostList;
  }

  /** The served hosts that use `backend` (`get_vh_by_backend/1`). */
  hostsOf(backend: Backend): string[] {
    const out: string[] = [];
    for (const [host, b] of this.byHost) if (b === backend) out.push(host);
    return out;
  }

  /** Whether `backend` serves (or served) some host: it runs under the backend supervisor. */
  has(backend: Backend): boolean {
    return this.distinct.includes(backend);
  }

  /** `host_up`: `lserver` is served by `backend` from now on. */
  serve(lserver: string, backend: Backend): void {
    this.retired.delete(lserver);
    this.byHost.set(lserver, backend);
    this.refresh();
  }

  /** `host_down`: `lserver` is no longer served; its backend is kept for the closes to come. */
  retire(lserver: string): void {
    const backend = this.byHost.get(lserver);
    if (backend === undefined) return;
    this.byHost.delete(lserver);
    this.retired.set(lserver, backend);
    this.refresh();
  }

  /** Forgets `lserver` altogether (its backend never started). */
  forget(lserver: string): void {
    this.byHost.delete(lserver);
    this.retired.delete(lserver);
    this.refresh();
  }

  private refresh(): void {
    this.distinct = [...new Set([...this.byHost.values(), ...this.retired.values()])];
    this.hostList = Object.freeze([...this.byHost.keys()]);
  }

  /** The backend of a served host, or `undefined` for a host not served. */
  forHost(lserver: string): Backend | undefined {
    return this.byHost.get(lserver);
  }

  /** `get_sm_backend/1`: the backend of a served host; throws `UnknownHostError` for any other. */
  of(lserver: string): Backend {
    const backend = this.byHost.get(lserver);
    if (backend === undefined) throw new UnknownHostError(lserver);
    return backend;
  }

  /**
   * The backend of a served host or of one removed at run time, for what a session that is
   * already open does (close it, change its presence); throws `UnknownHostError` for any other.
   */
  ofOpen(lserver: string): Backend {
    const backend = this.byHost.get(lserver) ?? this.retired.get(lserver);
    if (backend === undefined) throw new UnknownHostError(lserver);
    return backend;
  }

  /** The rows of `user@server` (raw names, prepared here); none for a host not served. */
  rowsOf(user: string, server: string): MaybePromise<readonly Session[]> {
    const luser = nodeprep(user);
    const lserver = nameprep(server);
    const backend = this.byHost.get(lserver);
    return backend === undefined ? EMPTY : this.userRows(backend, luser, lserver);
  }

  /** The rows of `user@server/resource` (raw names, prepared here). */
  resourceRows(user: string, server: string, resource: string): MaybePromise<readonly Session[]> {
    const lresource = resourceprep(resource);
    return andThen(this.rowsOf(user, server), (rows) => rows.filter((s) => s.lresource === lresource));
  }

  /** Every row of a host (`get_sessions/1`); none for a host not served or on failure (reported). */
  hostRows(lserver: string): MaybePromise<readonly Session[]> {
    const backend = this.byHost.get(lserver);
    if (backend === undefined) return EMPTY;
    let rows: MaybePromise<readonly Session[]>;
    try {
      rows = backend.getSessions(lserver);
    } catch (error) {
      this.error(backend, 'getSessions', lserver, error);
      return EMPTY;
    }
    return this.settle(backend, 'getSessions', lserver, rows, EMPTY);
  }

  /** Every row of every backend (`get_sessions/0`); a failing backend adds none (reported). */
  allRows(): MaybePromise<readonly Session[]> {
    const parts = this.backends.map((b) => {
      let rows: MaybePromise<readonly Session[]>;
      try {
        rows = b.getSessions();
      } catch (error) {
        this.error(b, 'getSessions', undefined, error);
        return EMPTY;
      }
      return this.settle(b, 'getSessions', undefined, rows, EMPTY);
    });
    if (parts.some(isThenable)) return Promise.all(parts).then((p) => p.flat());
    return (parts as (readonly Session[])[]).flat();
  }

  /**
   * Reads a user's rows (`get_sessions/2`); a failure is reported and answered as no rows (never
   * cached), or as `failed` for a caller that must tell the two apart ({@link READ_FAILED},
   * compared by identity).
   */
  userRows(
    backend: Backend,
    luser: string,
    lserver: string,
    failed: readonly Session[] = EMPTY,
  ): MaybePromise<readonly Session[]> {
    let rows: MaybePromise<readonly Session[]>;
    try {
      rows = backend.getSessions(luser, lserver);
    } catch (error) {
      this.error(backend, 'getSessions', lserver, error);
      return failed;
    }
    return this.settle(backend, 'getSessions', lserver, rows, failed);
  }

  /** A read's answer, timed and repaired; a failure reported and answered with `failed`. */
  private settle(
    backend: Backend,
    operation: string,
    host: string | undefined,
    rows: MaybePromise<readonly Session[]>,
    failed: readonly Session[],
  ): MaybePromise<readonly Session[]> {
    if (isThenable(rows)) {
      return this.timed(backend, operation, rows).then(
        (r) => this.repair(backend, r),
        (error: unknown) => {
          this.error(backend, operation, host, error);
          return failed;
        },
      );
    }
    return this.repair(backend, rows);
  }

  /** A backend call's promise, failing with `BackendTimeoutError` past `ms` (default `timeoutMs`). */
  timed<T>(
    backend: Backend,
    operation: string,
    promise: Promise<T>,
    ms: number = this.timeoutMs,
  ): Promise<T> {
    return this.timeouts.within(promise, ms, () => new BackendTimeoutError(backend.name, operation, ms));
  }

  /** `delete_dead/2`: drops (and deletes) rows of dead actors on this node; remote rows are unchecked. */
  private repair(backend: Backend, rows: readonly Session[]): readonly Session[] {
    let dead = false;
    for (let i = 0; i < rows.length; i++) {
      const ref = rows[i]!.sid.ref;
      if (ref.node === this.node && !this.system.isAlive(ref)) {
        dead = true;
        break;
      }
    }
    if (!dead) return rows;
    const alive: Session[] = [];
    for (const s of rows) {
      const ref = s.sid.ref;
      if (ref.node === this.node && !this.system.isAlive(ref)) {
        const r = this.remove(backend, s);
        if (isThenable(r)) r.catch(() => {});
      } else alive.push(s);
    }
    return alive;
  }

  /** `set_session/1`: writes the row; a failure is reported and thrown (or rejected). */
  write(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = backend.setSession(row);
      if (isThenable(r)) {
        return this.timed(backend, 'setSession', r).catch((error: unknown) => {
          this.error(backend, 'setSession', row.lserver, error);
          throw error;
        });
      }
    } catch (error) {
      this.error(backend, 'setSession', row.lserver, error);
      throw error;
    }
  }

  /** `write`, but a failure is only reported (`backend_error`), as callers that ignore `set_session`'s result. */
  writeReported(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = this.write(backend, row);
      if (isThenable(r)) return r.catch(() => {});
    } catch {
      // reported by write
    }
  }

  /** `delete_session/1`: removes the row with this sid; a failure is reported, never thrown. */
  remove(backend: Backend, row: Session): MaybePromise<void> {
    try {
      const r = backend.deleteSession(row);
      if (isThenable(r)) {
        return this.timed(backend, 'deleteSession', r).catch((error: unknown) =>
          this.error(backend, 'deleteSession', row.lserver, error),
        );
      }
    } catch (error) {
      this.error(backend, 'deleteSession', row.lserver, error);
    }
  }

  /** Reports a failed backend call: logged, and emitted as `backend_error`. */
  error(backend: Backend, operation: string, host: string | undefined, error: unknown): void {
    this.logger.error({ err: error, backend: backend.name, operation, host }, 'session backend error');
    if (this.events.has('backend_error')) {
      this.events.emit('backend_error', {
        backend: backend.name,
        operation,
        error,
        ...(host === undefined ? {} : { host }),
      });
    }
  }
}
