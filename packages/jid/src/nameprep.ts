import { isIPv4, isIPv6 } from 'node:net';
import punycode from 'punycode/punycode.js';
import { InvalidJidError } from './errors.ts';
import { caches, cachingEnabled } from './internal/caches.ts';
import { checkPrepared, checkRaw } from './internal/limits.ts';
import { NAMEPREP, prepare } from './internal/prepare.ts';

const ACE_PREFIX = 'xn--';
/** IDNA2003 label separators (RFC 3490 §3.1): U+3002, U+FF0E, U+FF61 act as '.'. */
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;
/** The zone id of an IPv6 literal (RFC 6874's ZoneID: unreserved characters). */
const ZONE_ID = /^[a-z0-9._~-]+$/;

/**
 * Prepares a domainpart as ejabberd's `jid:nameprep/1` and `jid:decode/1` do: ejabberd's
 * `string_to_usr` grammar, then the stringprep nameprep profile (p1_stringprep `nameprep`:
 * B.1 and B.2 mapping, NFKC, prohibited output C.1.2, C.2.2, C.3–C.9, unassigned code points refused,
 * the bidi rules), then 1..1023 bytes of UTF-8 before and after. So, as in ejabberd:
 *
 * - any character but whitespace, `@`, `/` and `.` may make up a label: `_`, `:`, `(`, `)` and
 *   the characters compatibility mappings produce (`⑴` → `(1)`) included; labels may be longer
 *   than 63 octets and start or end with `-` (an XMPP domainpart need not be a DNS name);
 * - labels are separated by `.`; an empty label is refused; one trailing `.` is allowed;
 * - an IP literal `[…]` holds an IPv6 address, with or without a zone id (`[fe80::1%eth0]`), or
 *   an IPv4 address (`[192.0.2.1]`); an IPv4 address without brackets is an ordinary domain;
 * - ASCII letters are lowercased, everything else follows nameprep.
 *
 * Where it differs from ejabberd (the package README gives the reasons): the trailing `.` is
 * removed (RFC 7622 §3.2); U+3002, U+FF0E and U+FF61 separate labels (RFC 3490 §3.1); an A-label
 * (`xn--…` that decodes and round-trips) becomes its U-label (RFC 7622 §3.2.1), so
 * `xn--bcher-kva.example` and `bücher.example` are one host; bidi applies per label (RFC 3491 through
 * IDNA); a domain whose prepared form is not itself a domain (an ASCII control character, a space,
 * `@` or `/` that NFKC produced, an empty label, nothing at all) and an IP literal that is not one
 * are refused.
 *
 * @throws {InvalidJidError} with `part: 'domain'`.
 * @example nameprep('Example.COM.') // 'example.com'
 */
export function nameprep(domain: string): string {
  checkRaw('domain', domain);
  const n = domain.length;
  if (n === 0) throw new InvalidJidError('domain', 'empty', domain);
  if (domain.charCodeAt(0) === 0x5b) return ipLiteral(domain);
  // ASCII fast path: printable ASCII without '@' and '/', no ACE label; nameprep only lowercases.
  let upper = false;
  let labelStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : domain.charCodeAt(i);
    if (c === 0x2e) {
      if (i === labelStart) {
        if (i === n && n > 1) break; // the trailing dot of "example.com."
        if (n === 1) throw new InvalidJidError('domain', 'empty', domain);
        throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2e });
      }
      if (
        i - labelStart >= 4 &&
        domain.charCodeAt(labelStart + 2) === 0x2d &&
        domain.charCodeAt(labelStart + 3) === 0x2d
      ) {
        return nameprepSlow(domain); // possibly an ACE label: decode it there
      }
      labelStart = i + 1;
      continue;
    }
    if (c > 0x20 && c < 0x7f) {
      if (c === 0x40 || c === 0x2f) {
        throw new InvalidJidError('domain', 'prohibited_character', domain, { codePoint: c });
      }
      if (c >= 0x41 && c <= 0x5a) upper = true;
      continue;
    }
    if (c >= 0x80) return nameprepSlow(domain);
    // ASCII whitespace and control characters.
    throw new InvalidJidError('domain', 'prohibited_character', domain, { codePoint: c });
  }
  const stripped = domain.charCodeAt(n - 1) === 0x2e ? domain.slice(0, n - 1) : domain;
  return upper ? stripped.toLowerCase() : stripped;
}

/**
 * `[IPv6]`, `[IPv6%zone]` or `[IPv4]`, lowercased, one trailing `.` removed. ejabberd keeps any
 * string that begins with `[`; here the literal must hold an address.
 */
function ipLiteral(domain: string): string {
  const end = domain.endsWith('].') ? domain.length - 1 : domain.length;
  if (domain.charCodeAt(end - 1) !== 0x5d) throw new InvalidJidError('domain', 'malformed', domain);
  const inner = domain.slice(1, end - 1).toLowerCase();
  const percent = inner.indexOf('%');
  const address = percent < 0 ? inner : inner.slice(0, percent);
  const ok =
    percent < 0
      ? isIPv6(address) || isIPv4(address)
      : isIPv6(address) && ZONE_ID.test(inner.slice(percent + 1));
  if (!ok) throw new InvalidJidError('domain', 'malformed', domain);
  return `[${inner}]`;
}

function nameprepSlow(domain: string): string {
  const cached = caches.domain.get(domain);
  if (cached !== undefined) return cached;
  const raw = domain.replace(IDEOGRAPHIC_DOTS, '.').split('.');
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop(); // the trailing dot
  if (raw.length === 1 && raw[0] === '') throw new InvalidJidError('domain', 'empty', domain);
  const prepared: string[] = [];
  for (const label of raw) {
    if (label === '') throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2e });
    // Raw characters ejabberd's grammar refuses (before any mapping).
    checkChars(label, domain);
    prepared.push(prepare(NAMEPREP, label, domain));
  }
  // The prepared form must be a domain again: NFKC may have produced separators ('⒈' → "1."),
  // spaces, '@' or '/' (ejabberd keeps such a domain, which `jid:encode/1` cannot give back).
  const labels = prepared.join('.').split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  if (labels.length === 1 && labels[0] === '') throw new InvalidJidError('domain', 'empty', domain);
  const out: string[] = [];
  for (const label of labels) {
    if (label === '') throw new InvalidJidError('domain', 'malformed', domain, { codePoint: 0x2e });
    checkChars(label, domain);
    out.push(label.startsWith(ACE_PREFIX) ? (uLabel(label, domain) ?? label) : label);
  }
  const result = checkPrepared('domain', out.join('.'), domain);
  if (cachingEnabled) caches.domain.set(domain, result);
  return result;
}

/** Refuses ASCII whitespace and control characters, `@` and `/` (`string_to_usr`'s domain bytes). */
function checkChars(label: string, domain: string): void {
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x40 || c === 0x2f) {
      throw new InvalidJidError('domain', 'prohibited_character', domain, { codePoint: c });
    }
  }
}

/**
 * RFC 3490 §4.2 ToUnicode of an ACE label: its U-label when the label decodes, the result is not
 * ASCII, survives nameprep unchanged and encodes back to the same label; `undefined` otherwise
 * (the label is then kept as it is, as ejabberd keeps every `xn--` label).
 */
function uLabel(label: string, domain: string): string | undefined {
  const encoded = label.slice(ACE_PREFIX.length);
  let decoded: string;
  try {
    decoded = punycode.decode(encoded);
  } catch {
    return undefined;
  }
  if (decoded === '' || isAscii(decoded)) return undefined;
  let again: string;
  try {
    if (prepare(NAMEPREP, decoded, domain) !== decoded) return undefined;
    again = punycode.encode(decoded);
  } catch {
    return undefined;
  }
  return again === encoded ? decoded : undefined;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
