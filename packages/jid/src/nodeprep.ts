import { InvalidJidError } from './errors.ts';
import { caches, cachingEnabled } from './internal/caches.ts';
import { checkPrepared, checkRaw } from './internal/limits.ts';
import { NODEPREP, prepare } from './internal/prepare.ts';

/**
 * Prepares a localpart with the stringprep nodeprep profile (RFC 3920 appendix A,
 * RFC 6122 §2.3), as ejabberd's `jid:nodeprep/1`: B.1 and B.2 mapping, NFKC, prohibited output
 * (C.1.1–C.9 plus `"&'/:<>@`), bidi rules, unassigned code points refused, 1..1023 bytes of UTF-8
 * before and after preparation. `''` (no localpart) prepares to `''`.
 *
 * ASCII input takes a fast path; non-ASCII results are kept in an LRU cache.
 *
 * @throws {InvalidJidError} with `part: 'local'`.
 * @example nodeprep('ſtraße') // 'strasse'
 */
export function nodeprep(local: string): string {
  checkRaw('local', local);
  const n = local.length;
  if (n === 0) return '';
  let upper = false;
  for (let i = 0; i < n; i++) {
    const c = local.charCodeAt(i);
    if (c >= 0x80) return nodeprepSlow(local);
    const kind = ASCII[c]!;
    if (kind === PROHIBITED)
      throw new InvalidJidError('local', 'prohibited_character', local, { codePoint: c });
    if (kind === UPPER) upper = true;
  }
  return upper ? local.toLowerCase() : local;
}

// The ASCII fast path reads one table instead of testing a Set per character (it runs on every
// JID of every stanza): controls, space, DEL and `"&'/:<>@` are prohibited, A–Z fold to a–z.
const ALLOWED = 0;
const UPPER = 1;
const PROHIBITED = 2;
const ASCII = new Uint8Array(0x80);
for (let c = 0; c < 0x80; c++) {
  if (c <= 0x20 || c === 0x7f || NODEPREP.prohibitedAscii.has(c)) ASCII[c] = PROHIBITED;
  else if (c >= 0x41 && c <= 0x5a) ASCII[c] = UPPER;
  else ASCII[c] = ALLOWED;
}

function nodeprepSlow(local: string): string {
  const cached = caches.local.get(local);
  if (cached !== undefined) return cached;
  const prepared = checkPrepared('local', prepare(NODEPREP, local), local);
  if (cachingEnabled) caches.local.set(local, prepared);
  return prepared;
}
