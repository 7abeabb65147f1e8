import type { ActorRef } from '@otp-chat/actor';
import { compareSid, Sid, type SidJSON } from './Sid.ts';

/**
 * Session info, ejabberd's `info` proplist (`#session{}` in `ejabberd_sm.hrl`): at open time the
 * connection sets `ip` (`[address, port]`, ejabberd's `{IP, Port}`), `conn` (the transport:
 * `c2s`, `c2s_tls`, `websocket`…) and `authModule` (ejabberd's `auth_module`: the user store);
 * modules add their keys through `setUserInfo`. Treated as immutable: updates copy it.
 */
export type SessionInfo = Readonly<Record<string, unknown>>;

/** The client's address and port of a session info (ejabberd's `{ip, {IP, Port}}`), when it has them. */
export function sessionIp(info: SessionInfo): readonly [address: string, port: number] | undefined {
  const ip = info.ip;
  if (!Array.isArray(ip) || ip.length !== 2) return undefined;
  const [address, port] = ip as unknown[];
  return typeof address === 'string' && typeof port === 'number' ? [address, port] : undefined;
}

/**
 * A session priority: an integer when the session is available, `undefined` when it is bound but
 * not available (no initial presence yet, or it sent unavailable). Never coerce `undefined` to 0
 * (ejabberd's `prio() :: undefined | integer()`).
 */
export type Priority = number | undefined;

/** The JSON form of a {@link Session}. `priority: null` stands for `undefined`. */
export interface SessionJSON {
  readonly sid: SidJSON;
  readonly usr: readonly [string, string, string];
  readonly priority: number | null;
  readonly info: SessionInfo;
}

const EMPTY_INFO: SessionInfo = Object.freeze({});

/**
 * One session row, ejabberd's `#session{sid, usr, us, priority, info}` (`ejabberd_sm.hrl`). The user,
 * server and resource are stored prepared (nodeprep / nameprep / resourceprep); `usr` and `us`
 * are derived from them so that a row costs one small object. Immutable: `setPresence` and
 * `setUserInfo` write a new row with the same sid (backends upsert by sid).
 */
export class Session {
  readonly sid: Sid;
  /** Prepared localpart (`LUser`). */
  readonly luser: string;
  /** Prepared domain (`LServer`): the virtual host, which chooses the backend. */
  readonly lserver: string;
  /** Prepared resource (`LResource`). */
  readonly lresource: string;
  readonly priority: Priority;
  readonly info: SessionInfo;

  constructor(
    sid: Sid,
    luser: string,
    lserver: string,
    lresource: string,
    priority: Priority,
    info: SessionInfo = EMPTY_INFO,
  ) {
    this.sid = sid;
    this.luser = luser;
    this.lserver = lserver;
    this.lresource = lresource;
    this.priority = priority;
    this.info = info;
  }

  /** `{LUser, LServer, LResource}`. */
  get usr(): readonly [string, string, string] {
    return [this.luser, this.lserver, this.lresource];
  }

  /** `{LUser, LServer}`. */
  get us(): readonly [string, string] {
    return [this.luser, this.lserver];
  }

  /** The connection actor (the pid of ejabberd's sid). */
  get ref(): ActorRef {
    return this.sid.ref;
  }

  /** The same row with another priority. */
  withPriority(priority: Priority): Session {
    return new Session(this.sid, this.luser, this.lserver, this.lresource, priority, this.info);
  }

  /** The same row with another info. */
  withInfo(info: SessionInfo): Session {
    return new Session(this.sid, this.luser, this.lserver, this.lresource, this.priority, info);
  }

  toJSON(): SessionJSON {
    return {
      sid: this.sid.toJSON(),
      usr: [this.luser, this.lserver, this.lresource],
      priority: this.priority === undefined ? null : this.priority,
      info: this.info,
    };
  }

  /** Reads back what `toJSON` wrote (after `JSON.parse`). */
  static fromJSON(json: SessionJSON): Session {
    const [u, s, r] = json.usr;
    return new Session(
      Sid.fromJSON(json.sid),
      u,
      s,
      r,
      json.priority === null ? undefined : json.priority,
      Object.freeze({ ...json.info }),
    );
  }
}

/** Orders rows by sid (Erlang compares `#session{}` records element-wise, sid first). */
export function compareSessions(a: Session, b: Session): number {
  return compareSid(a.sid, b.sid);
}

/** The newest row (`lists:max`), or `undefined` for an empty list. */
export function newestSession(sessions: readonly Session[]): Session | undefined {
  let best: Session | undefined;
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    if (best === undefined || compareSid(s.sid, best.sid) > 0) best = s;
  }
  return best;
}

/** The oldest row (`lists:min`), or `undefined` for an empty list. */
export function oldestSession(sessions: readonly Session[]): Session | undefined {
  let best: Session | undefined;
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    if (best === undefined || compareSid(s.sid, best.sid) < 0) best = s;
  }
  return best;
}

/**
 * `ejabberd_sm:clean_session_list/1`: one row per resource, the newest. The order of the result is
 * not meaningful.
 */
export function cleanSessionList(sessions: readonly Session[]): Session[] {
  if (sessions.length <= 1) return sessions.slice();
  const byRes = new Map<string, Session>();
  for (const s of sessions) {
    const cur = byRes.get(s.lresource);
    if (cur === undefined || compareSid(s.sid, cur.sid) > 0) byRes.set(s.lresource, s);
  }
  return [...byRes.values()];
}
