/**
 * Defaults of `@otp-chat/jid`.
 *
 * - `cacheSize` (10 000): entries of each LRU cache (mnemonist `LRUCache`): one of parsed JIDs keyed
 *   by the input string, and one per profile of non-ASCII preparations. ejabberd has no such cache
 *   (its stringprep is a NIF); it exists here because preparation sits on the routing hot path.
 *   Change it with `configureJidCache({ size })`.
 * - `maxPartBytes` (1023): RFC 7622 §3.1 limit on each part, in bytes of UTF-8, enforced before and
 *   after preparation, as ejabberd's `jid.erl` does (`byte_size(S) < 1024`).
 *
 * There is no limit on a domain label (DNS allows 63 octets): as in ejabberd, a domainpart need not
 * be a DNS name (RFC 7622 §3.2 leaves text labels unrestricted).
 */
export const DEFAULTS = {
  cacheSize: 10_000,
  maxPartBytes: 1023,
} as const;
