import { InvalidJidError } from './errors.ts';
import { caches, cachingEnabled } from './internal/caches.ts';
import { checkPrepared, checkRaw } from './internal/limits.ts';
import { prepare, RESOURCEPREP } from './internal/prepare.ts';

/**
 * Prepares a resourcepart with the stringprep resourceprep profile (RFC 3920 appendix B,
 * RFC 6122 §2.4), as ejabberd's `jid:resourceprep/1`: B.1 mapping only (case is kept), NFKC,
 * prohibited output (C.1.2, C.2.1–C.9; the ASCII space, `@` and `/` are allowed), bidi rules,
 * unassigned code points refused, 1..1023 bytes of UTF-8 before and after preparation. `''` (no
 * resource) prepares to `''`.
 *
 * @throws {InvalidJidError} with `part: 'resource'`.
 * @example resourceprep('Ｐhone') // 'Phone'
 */
export function resourceprep(resource: string): string {
  checkRaw('resource', resource);
  const n = resource.length;
  for (let i = 0; i < n; i++) {
    const c = resource.charCodeAt(i);
    if (c >= 0x80) return resourceprepSlow(resource);
    if (c < 0x20 || c === 0x7f) {
      throw new InvalidJidError('resource', 'prohibited_character', resource, { codePoint: c });
    }
  }
  return resource;
}

function resourceprepSlow(resource: string): string {
  const cached = caches.resource.get(resource);
  if (cached !== undefined) return cached;
  const prepared = checkPrepared('resource', prepare(RESOURCEPREP, resource), resource);
  if (cachingEnabled) caches.resource.set(resource, prepared);
  return prepared;
}
