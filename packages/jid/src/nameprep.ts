import { isIPv6 } from 'node:net';
import punycode from 'punycode/punycode.js';
import { DEFAULTS } from './DEFAULTS.ts';
import { InvalidJidError } from './errors.ts';
import { caches, cachingEnabled } from './internal/caches.ts';
import { checkPrepared, checkRaw } from './internal/limits.ts';
import { NAMEPREP, prepare } from './internal/prepare.ts';

const ACE_PREFIX = 'xn--';
/** IDNA2003 label separators (RFC 3490 §3.1): U+3002, U+FF0E, U+FF61 act as '.'. */
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;

/**
 * Prepares a domainpart as ejabberd's `jid:nameprep/1` does, plus the IDNA2003 rules RFC 6122 §2.2
 * asks for:
 * - an IP literal `[IPv6]` is checked (`node:net` `isIPv6`, no zone) and kept, lowercased;
 * - otherwise one trailing `.` is removed, the name is split into labels on `.` (and the ideographic
 *   full stops), each label is prepared with the stringprep nameprep profile (RFC 3491: B.1, B.2,
 *   NFKC, prohibited output, bidi per label, unassigned refused), an ACE label (`xn--…`) is decoded
 *   to its U-label (ToUnicode, which must round-trip), and STD3 rules apply: ASCII letters, digits
 *   and `-` only, no leading or trailing `-`, at most 63 octets per label in ACE form;
 * - the result is the Unicode form, so `xn--bcher-kva.example` and `BÜCHER.example.` compare equal;
 * - 1..1023 bytes of UTF-8 before and after preparation.
 *
 * IPv4 addresses pass as ordinary labels of digits.
 *
 * @throws {InvalidJidError} with `part: 'domain'`.
 * @example nameprep('Example.COM.') // 'example.com'
 */
export function nameprep(domain: string): string {
  checkRaw('domain', domain);
  const n = domain.length;
  if (n === 0) throw new InvalidJidError('domain', 'empty', domain);
  if (domain.charCodeAt(0) === 0x5b) return ipLiteral(domain);
  // ASCII fast path: LDH labels, no ACE label.
  let upper = false;
  let labelStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : domain.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0) {
        if (i === n && n > 1) break; // the trailing dot of "example.com."
        if (n === 1) throw new InvalidJidError('domain', 'empty', domain);
        throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2e });
      }
      if (domain.charCodeAt(labelStart) === 0x2d || domain.charCodeAt(i - 1) === 0x2d) {
        throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2d });
      }
      if (len > DEFAULTS.maxLabelOctets) throw new InvalidJidError('domain', 'too_long', domain);
      if (
        len >= 4 &&
        domain.charCodeAt(labelStart + 2) === 0x2d &&
        domain.charCodeAt(labelStart + 3) === 0x2d
      ) {
        return nameprepSlow(domain); // possibly an ACE label: decode it there
      }
      labelStart = i + 1;
      continue;
    }
    if (c >= 0x61 && c <= 0x7a) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) continue;
    if (c >= 0x41 && c <= 0x5a) {
      upper = true;
      continue;
    }
    if (c >= 0x80) return nameprepSlow(domain);
    throw new InvalidJidError('domain', 'prohibited_character', domain, { codePoint: c });
  }
  const stripped = domain.charCodeAt(n - 1) === 0x2e ? domain.slice(0, n - 1) : domain;
  return upper ? stripped.toLowerCase() : stripped;
}

function ipLiteral(domain: string): string {
  const inner = domain.slice(1, -1);
  if (domain.charCodeAt(domain.length - 1) !== 0x5d || inner.includes('%') || !isIPv6(inner)) {
    throw new InvalidJidError('domain', 'malformed', domain);
  }
  return '[' + inner.toLowerCase() + ']';
}

function nameprepSlow(domain: string): string {
  const cached = caches.domain.get(domain);
  if (cached !== undefined) return cached;
  const labels = domain.replace(IDEOGRAPHIC_DOTS, '.').split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop(); // trailing dot
  const prepared = checkPrepared(
    'domain',
    labels.map((label) => prepareLabel(label, domain)).join('.'),
    domain,
  );
  if (cachingEnabled) caches.domain.set(domain, prepared);
  return prepared;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function prepareLabel(label: string, domain: string): string {
  if (label === '') throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2e });
  let u = prepare(NAMEPREP, label, domain);
  if (u.startsWith(ACE_PREFIX)) {
    // RFC 3490 §4.2 ToUnicode: decode, and ToASCII of the result must give the label back.
    let decoded: string;
    try {
      decoded = punycode.decode(u.slice(ACE_PREFIX.length));
    } catch (cause) {
      throw new InvalidJidError('domain', 'malformed', domain, { cause });
    }
    if (decoded === '' || isAscii(decoded) || prepare(NAMEPREP, decoded, domain) !== decoded) {
      throw new InvalidJidError('domain', 'malformed', domain);
    }
    u = decoded;
  }
  // STD3 ASCII rules (RFC 3490 §4.1 step 3) on the prepared label.
  for (let i = 0; i < u.length; i++) {
    const c = u.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d) continue;
    throw new InvalidJidError('domain', 'prohibited_character', domain, { codePoint: c });
  }
  if (u === '') throw new InvalidJidError('domain', 'empty', domain);
  if (u.charCodeAt(0) === 0x2d || u.charCodeAt(u.length - 1) === 0x2d) {
    throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2d });
  }
  const aceLength = isAscii(u) ? u.length : ACE_PREFIX.length + encode(u, domain).length;
  if (aceLength > DEFAULTS.maxLabelOctets) throw new InvalidJidError('domain', 'too_long', domain);
  return u;
}

function encode(u: string, domain: string): string {
  try {
    return punycode.encode(u);
  } catch (cause) {
    throw new InvalidJidError('domain', 'malformed', domain, { cause });
  }
}
