import type { Backend, BackendInitContext } from './Backend.ts';
import type { Session } from './Session.ts';

/** One user's rows: a single row (the common case, no array) or several. */
type UserRows = Session | Session[];

/**
 * The in-process session store: the role mnesia's `session` table plays in ejabberd (`ejabberd_sm_mnesia`),
 * synchronous, with no cache (`useCache` is false, as mnesia forces).
 *
 * Layout, chosen for memory (well under 650 bytes per session at a million sessions): one `Map`
 * per virtual host keyed by the prepared user, whose value is the user's only row or an array of
 * rows. The host map is the by-server index, the user entry the by-user index, and a sid is found
 * within its user's rows (every `deleteSession` carries the row's `usr`), so no per-sid string key
 * is ever built. `getSessions()` concatenates the hosts.
 */
export class MemoryBackend implements Backend {
  readonly name: string = 'memory';
  private readonly servers = new Map<string, Map<string, UserRows>>();
  private count = 0;

  init(_context?: BackendInitContext): void {}

  /** Number of rows stored. */
  get size(): number {
    return this.count;
  }

  setSession(session: Session): void {
    let users = this.servers.get(session.lserver);
    if (users === undefined) {
      users = new Map();
      this.servers.set(session.lserver, users);
    }
    const cur = users.get(session.luser);
    if (cur === undefined) {
      users.set(session.luser, session);
      this.count++;
      return;
    }
    if (!Array.isArray(cur)) {
      if (cur.sid.equals(session.sid)) users.set(session.luser, session);
      else {
        users.set(session.luser, [cur, session]);
        this.count++;
      }
      return;
    }
    for (let i = 0; i < cur.length; i++) {
      if (cur[i]!.sid.equals(session.sid)) {
        cur[i] = session;
        return;
      }
    }
    cur.push(session);
    this.count++;
  }

  deleteSession(session: Session): void {
    const users = this.servers.get(session.lserver);
    if (users === undefined) return;
    const cur = users.get(session.luser);
    if (cur === undefined) return;
    if (!Array.isArray(cur)) {
      if (cur.sid.equals(session.sid)) {
        // An emptied host map is kept: hosts are few, and dropping it would make the next
        // `setSession` of that host allocate a new Map (open/close churn).
        users.delete(session.luser);
        this.count--;
      }
      return;
    }
    const i = cur.findIndex((s) => s.sid.equals(session.sid));
    if (i < 0) return;
    cur.splice(i, 1);
    this.count--;
    if (cur.length === 1) users.set(session.luser, cur[0]!);
  }

  getSessions(luserOrServer?: string, lserver?: string): readonly Session[] {
    if (lserver !== undefined) return this.userRows(luserOrServer ?? '', lserver);
    if (luserOrServer !== undefined) return this.hostRows(luserOrServer);
    const out: Session[] = [];
    for (const users of this.servers.values()) pushAll(out, users);
    return out;
  }

  /**
   * The rows of one user without copying when there is a single row: the hot path of routing.
   * The returned array must not be mutated.
   */
  private userRows(luser: string, lserver: string): readonly Session[] {
    const cur = this.servers.get(lserver)?.get(luser);
    if (cur === undefined) return EMPTY;
    return Array.isArray(cur) ? cur.slice() : [cur];
  }

  private hostRows(lserver: string): readonly Session[] {
    const users = this.servers.get(lserver);
    if (users === undefined) return EMPTY;
    const out: Session[] = [];
    pushAll(out, users);
    return out;
  }

  cleanNode(node: string): readonly Session[] {
    const removed: Session[] = [];
    for (const users of this.servers.values()) {
      for (const rows of users.values()) {
        if (Array.isArray(rows)) {
          for (const s of rows) if (s.sid.ref.node === node) removed.push(s);
        } else if (rows.sid.ref.node === node) removed.push(rows);
      }
    }
    for (const s of removed) this.deleteSession(s);
    return removed;
  }

  useCache(_lserver: string): boolean {
    return false;
  }

  stop(): void {
    this.servers.clear();
    this.count = 0;
  }
}

const EMPTY: readonly Session[] = Object.freeze([]) as readonly Session[];

function pushAll(out: Session[], users: Map<string, UserRows>): void {
  for (const rows of users.values()) {
    if (Array.isArray(rows)) for (const s of rows) out.push(s);
    else out.push(rows);
  }
}
