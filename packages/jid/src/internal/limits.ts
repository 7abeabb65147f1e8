import { DEFAULTS } from '../DEFAULTS.ts';
import { InvalidJidError, type JidPart } from '../errors.ts';

/** UTF-8 length, computed only when it could exceed the limit (3 bytes per UTF-16 unit at most). */
function exceedsPartBytes(s: string): boolean {
  if (s.length * 3 <= DEFAULTS.maxPartBytes) return false;
  if (s.length > DEFAULTS.maxPartBytes) return true;
  return Buffer.byteLength(s, 'utf8') > DEFAULTS.maxPartBytes;
}

/** Refuses a non-string, or a raw part over the byte limit (ejabberd checks before preparing). */
export function checkRaw(part: JidPart, raw: unknown): asserts raw is string {
  if (typeof raw !== 'string') throw new InvalidJidError(part, 'malformed', String(raw));
  if (exceedsPartBytes(raw)) throw new InvalidJidError(part, 'too_long', raw);
}

/** RFC 7622 §3.1: 1..1023 bytes after preparation. */
export function checkPrepared(part: JidPart, prepared: string, raw: string): string {
  if (prepared.length === 0) throw new InvalidJidError(part, 'empty', raw);
  if (exceedsPartBytes(prepared)) throw new InvalidJidError(part, 'too_long', raw);
  return prepared;
}
