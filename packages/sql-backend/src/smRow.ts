import { ActorRef } from '@otp-chat/actor';
import { Session, type SessionInfo, Sid } from '@otp-chat/session-manager';
import { SqlRowDecodeError, SqlValueError } from './errors.ts';

/**
 * One row of the `sm` table as it is written: ejabberd's columns (`ejabberd_sm_sql`), in order.
 * `usec` goes as a decimal string (a JavaScript number is exact up to 2^53, and so is every usec
 * this code writes; the string keeps the driver from guessing a type).
 */
export type SmRowValues = readonly [
  usec: string,
  pid: string,
  node: string,
  username: string,
  serverHost: string,
  resource: string,
  priority: string,
  info: string,
];

/** A row as it is read back (`usec` arrives as a string: `bigint`). */
export interface SmRow {
  readonly usec: string | number;
  readonly pid: string;
  readonly node: string;
  readonly username: string;
  readonly server_host: string;
  readonly resource: string;
  readonly priority: string;
  readonly info: string;
}

const EMPTY_INFO: SessionInfo = Object.freeze({});
const MICRO = 1_000_000;

/**
 * `usec`, ejabberd's `now_to_timestamp/1` of the sid's timestamp: `{MegaSecs, Secs, Counter}` read
 * as microseconds, where ejabberd's third element is a per-node counter modulo 10^6 (`ejabberd_sm:make_sid/0`).
 * Here: seconds × 10^6 + (counter mod 10^6). It orders rows as ejabberd's does; the full counter is
 * kept in `pid`, so the pair (usec, pid) is unique per sid.
 */
export function sidUsec(sid: Sid): number {
  return sid.time * MICRO + (sid.counter % MICRO);
}

/**
 * `pid`, the connection (ejabberd: `misc:encode_pid/1`) and the rest of the sid, as JSON:
 * `[refNode, refId, counter]`, plus the sid's node when it differs from the connection's.
 * The `node` column holds the connection's node (ejabberd: `node(Pid)`), which `cleanNode` uses.
 */
export function sidPid(sid: Sid): string {
  const ref = sid.ref;
  const head = `[${JSON.stringify(ref.node)},${ref.id},${sid.counter}`;
  return sid.node === ref.node ? `${head}]` : `${head},${JSON.stringify(sid.node)}]`;
}

/** NUL or any surrogate code unit: the cheap first look (most strings have neither). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the two things looked for.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
/** With the `u` flag a paired surrogate is one code point, so only an unpaired one matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Rejects what `text` cannot hold byte-exact: NUL, and unpaired surrogates (not valid Unicode). */
function checkText(field: string, value: string): string {
  if (!SUSPECT.test(value)) return value;
  if (value.includes('\u0000')) throw new SqlValueError(field, 'contains a NUL character');
  if (LONE_SURROGATE.test(value)) throw new SqlValueError(field, 'contains an unpaired surrogate');
  return value;
}

/**
 * The `sm` row of a session: ejabberd's columns with `priority` `''` for `undefined` (as
 * `enc_priority/1`) and `info` as JSON (ejabberd: the Erlang term as text). Throws
 * {@link SqlValueError} for a string PostgreSQL cannot store byte-exact.
 */
export function encodeSmRow(s: Session): SmRowValues {
  const sid = s.sid;
  return [
    String(sidUsec(sid)),
    checkText('pid', sidPid(sid)),
    checkText('node', sid.ref.node),
    checkText('username', s.luser),
    checkText('server_host', s.lserver),
    checkText('resource', s.lresource),
    s.priority === undefined ? '' : String(s.priority),
    JSON.stringify(s.info),
  ];
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * Reads back what {@link encodeSmRow} wrote; throws {@link SqlRowDecodeError} on anything else
 * (a row ejabberd wrote, a hand edit), which the backend skips and logs.
 */
export function decodeSmRow(row: SmRow): Session {
  const pidText = String(row.pid);
  const usec = Number(row.usec);
  if (!Number.isSafeInteger(usec) || usec < 0) decodeFailure(pidText, 'bad usec');
  let pid: unknown;
  try {
    pid = JSON.parse(pidText);
  } catch (cause) {
    decodeFailure(pidText, 'pid is not otp-chat JSON', cause);
  }
  if (!Array.isArray(pid) || (pid.length !== 3 && pid.length !== 4)) return decodeFailure(pidText, 'bad pid');
  const refNode: unknown = pid[0];
  const refId: unknown = pid[1];
  const counter: unknown = pid[2];
  const sidNode: unknown = pid[3];
  if (
    typeof refNode !== 'string' ||
    !isInt(refId) ||
    !isInt(counter) ||
    counter < 0 ||
    !(sidNode === undefined || typeof sidNode === 'string') ||
    refNode !== row.node ||
    usec % MICRO !== counter % MICRO
  ) {
    return decodeFailure(pidText, 'bad pid');
  }
  let priority: number | undefined;
  if (row.priority !== '') {
    priority = Number(row.priority);
    if (!isInt(priority)) decodeFailure(pidText, 'bad priority');
  }
  let info: SessionInfo = EMPTY_INFO;
  if (row.info !== '{}') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.info);
    } catch (cause) {
      decodeFailure(pidText, 'info is not JSON', cause);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      decodeFailure(pidText, 'info is not an object');
    }
    info = Object.freeze(parsed as Record<string, unknown>);
  }
  return new Session(
    new Sid(Math.floor(usec / MICRO), counter, sidNode ?? refNode, new ActorRef(refNode, refId)),
    row.username,
    row.server_host,
    row.resource,
    priority,
    info,
  );
}

function decodeFailure(pidText: string, reason: string, cause?: unknown): never {
  throw new SqlRowDecodeError(pidText.slice(0, 200), reason, cause === undefined ? {} : { cause });
}
