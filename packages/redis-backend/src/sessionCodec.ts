import { ActorRef } from '@otp-chat/actor';
import { Session, Sid } from '@otp-chat/session-manager';
import { SessionDecodeError } from './errors.ts';

/** The version written as the first element of every stored value. */
export const SESSION_CODEC_VERSION = 1;

const EMPTY_INFO = Object.freeze({});

/**
 * Encodes a row as a compact, versioned JSON array:
 * `[1, time, counter, node, refNode, refId, luser, lserver, lresource, priority|null, info?]`
 * (`info` omitted when empty). ejabberd stores `term_to_binary(#session{})` (`ejabberd_sm_redis:set_session/1`).
 */
export function encodeSession(s: Session): string {
  const sid = s.sid;
  const head = [
    SESSION_CODEC_VERSION,
    sid.time,
    sid.counter,
    sid.node,
    sid.ref.node,
    sid.ref.id,
    s.luser,
    s.lserver,
    s.lresource,
    s.priority === undefined ? null : s.priority,
  ];
  for (const _ in s.info) return JSON.stringify([...head, s.info]);
  return JSON.stringify(head);
}

/** Reads back what {@link encodeSession} wrote; throws {@link SessionDecodeError} on anything else. */
export function decodeSession(value: string): Session {
  let a: unknown;
  try {
    a = JSON.parse(value);
  } catch (cause) {
    throw new SessionDecodeError(value.slice(0, 200), 'not JSON', { cause });
  }
  if (!Array.isArray(a)) throw new SessionDecodeError(value.slice(0, 200), 'not an array');
  if (a[0] !== SESSION_CODEC_VERSION) {
    throw new SessionDecodeError(value.slice(0, 200), `unknown version ${String(a[0])}`);
  }
  const [, time, counter, node, refNode, refId, luser, lserver, lresource, priority, info] = a as unknown[];
  if (
    !isInt(time) ||
    !isInt(counter) ||
    typeof node !== 'string' ||
    typeof refNode !== 'string' ||
    !isInt(refId) ||
    typeof luser !== 'string' ||
    typeof lserver !== 'string' ||
    typeof lresource !== 'string' ||
    !(priority === null || isInt(priority)) ||
    !(info === undefined || (typeof info === 'object' && info !== null && !Array.isArray(info)))
  ) {
    throw new SessionDecodeError(value.slice(0, 200), 'bad field');
  }
  return new Session(
    new Sid(time, counter, node, new ActorRef(refNode, refId)),
    luser,
    lserver,
    lresource,
    priority === null ? undefined : priority,
    info === undefined ? EMPTY_INFO : Object.freeze(info as Record<string, unknown>),
  );
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
