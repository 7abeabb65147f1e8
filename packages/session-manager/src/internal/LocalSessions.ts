import type { ActorRef, ActorSystem } from '@otp-chat/actor';
import type { Session } from '../Session.ts';
import { compareSid, type Sid } from '../Sid.ts';

/** How many writes between two sweeps of the connections that ended without `closeSession`. */
const SWEEP_EVERY = 1024;

/**
 * The sessions whose connection lives on this node, by `luser@lserver/lresource` (the newest sid
 * of each): a node-local mirror of the rows this node wrote. Beyond ejabberd, whose session table
 * is the only record: it answers where the store cannot (a reply to a local full JID while the
 * backend is down) and lists the connections to ask to re-register when the store lost this
 * node's rows, or to tell `system-shutdown`.
 */
export class LocalSessions {
  private readonly sessions = new Map<string, Session>();
  private writes = 0;

  constructor(private readonly system: ActorSystem) {}

  private static usr(luser: string, lserver: string, lresource: string): string {
    return `${luser}@${lserver}/${lresource}`;
  }

  /** Remembers a row this node wrote for one of its own connections (the newest sid per resource). */
  note(row: Session): void {
    if (row.sid.ref.node !== this.system.node) return;
    const key = LocalSessions.usr(row.luser, row.lserver, row.lresource);
    const known = this.sessions.get(key);
    // A newer live session of the resource stays (the older one is being replaced).
    if (known !== undefined && compareSid(known.sid, row.sid) > 0 && this.system.isAlive(known.sid.ref)) {
      return;
    }
    this.sessions.set(key, row);
    // Connections that ended without closeSession (a crash) are swept now and then.
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
  }

  /** Forgets the session with this sid (it was closed). */
  forget(sid: Sid, luser: string, lserver: string, lresource: string): void {
    const key = LocalSessions.usr(luser, lserver, lresource);
    const known = this.sessions.get(key);
    if (known?.sid.equals(sid)) this.sessions.delete(key);
  }

  /** Replaces the session with this sid by `change(session)` (a new priority or info). */
  update(
    sid: Sid,
    luser: string,
    lserver: string,
    lresource: string,
    change: (row: Session) => Session,
  ): void {
    const key = LocalSessions.usr(luser, lserver, lresource);
    const known = this.sessions.get(key);
    if (known?.sid.equals(sid)) this.sessions.set(key, change(known));
  }

  /** The live session of a full JID, from this node's own knowledge (no backend). */
  get(luser: string, lserver: string, lresource: string): Session | undefined {
    const s = this.sessions.get(LocalSessions.usr(luser, lserver, lresource));
    return s !== undefined && this.system.isAlive(s.sid.ref) ? s : undefined;
  }

  /** Number of live sessions. */
  get size(): number {
    this.sweep();
    return this.sessions.size;
  }

  /** The live connections that hold a session (of `lserver` only, when given), each once. */
  connections(lserver?: string): ActorRef[] {
    this.sweep();
    const seen = new Set<string>();
    const refs: ActorRef[] = [];
    for (const s of this.sessions.values()) {
      if (lserver !== undefined && s.lserver !== lserver) continue;
      const key = s.sid.ref.toString();
      if (seen.has(key)) continue;
      seen.add(key);
      refs.push(s.sid.ref);
    }
    return refs;
  }

  private sweep(): void {
    for (const [key, s] of this.sessions) {
      if (!this.system.isAlive(s.sid.ref)) this.sessions.delete(key);
    }
  }
}
