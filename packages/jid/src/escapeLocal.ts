import { InvalidJidError } from './errors.ts';

/** XEP-0106 §4.2: the characters escaped in a localpart, and their escapes. */
const ESCAPES: ReadonlyMap<string, string> = new Map([
  [' ', '\\20'],
  ['"', '\\22'],
  ['&', '\\26'],
  ["'", '\\27'],
  ['/', '\\2f'],
  [':', '\\3a'],
  ['<', '\\3c'],
  ['>', '\\3e'],
  ['@', '\\40'],
  ['\\', '\\5c'],
]);
const UNESCAPES: ReadonlyMap<string, string> = new Map([...ESCAPES].map(([c, e]) => [e, c]));
const ESCAPE_SEQUENCE = /\\(?:20|22|26|27|2f|3a|3c|3e|40|5c)/g;
const TO_ESCAPE = /[ "&'/:<>@]|\\(?=20|22|26|27|2f|3a|3c|3e|40|5c)/g;

/**
 * XEP-0106 escaping of a localpart: ` "&'/:<>@` become `\20 \22 \26 \27 \2f \3a \3c \3e \40`, and a
 * `\` becomes `\5c` only where it starts one of those ten sequences (XEP-0106 §4.2). The result still has to
 * pass `nodeprep`.
 *
 * @throws {InvalidJidError} (`local`, `malformed`, U+0020) for a leading or trailing space, which
 *   XEP-0106 §4.3 forbids escaping.
 * @example escapeLocal("d'artagnan@musketeers") // 'd\\27artagnan\\40musketeers'
 */
export function escapeLocal(local: string): string {
  if (typeof local !== 'string') throw new InvalidJidError('local', 'malformed', String(local));
  if (local.startsWith(' ') || local.endsWith(' ')) {
    throw new InvalidJidError('local', 'malformed', local, { codePoint: 0x20 });
  }
  return local.replace(TO_ESCAPE, (c) => ESCAPES.get(c)!);
}

/**
 * XEP-0106 unescaping of a localpart (XEP-0106 §4.3): each of the ten escape sequences (lowercase hex, as
 * the XEP writes them) becomes its character; any other `\` is left as is.
 * @example unescapeLocal('d\\27artagnan\\40musketeers') // "d'artagnan@musketeers"
 */
export function unescapeLocal(local: string): string {
  if (typeof local !== 'string') throw new InvalidJidError('local', 'malformed', String(local));
  return local.replace(ESCAPE_SEQUENCE, (e) => UNESCAPES.get(e)!);
}
