import { LRUCache } from 'mnemonist';
import { DEFAULTS } from '../DEFAULTS.ts';
import type { Jid } from '../Jid.ts';

/** The LRU caches of the package: parsed JIDs, and non-ASCII preparations per profile. */
export interface Caches {
  readonly parse: LRUCache<string, Jid>;
  readonly local: LRUCache<string, string>;
  readonly domain: LRUCache<string, string>;
  readonly resource: LRUCache<string, string>;
}

function make(size: number): Caches {
  return {
    parse: new LRUCache<string, Jid>(size),
    local: new LRUCache<string, string>(size),
    domain: new LRUCache<string, string>(size),
    resource: new LRUCache<string, string>(size),
  };
}

export let caches: Caches = make(DEFAULTS.cacheSize);
export let cachingEnabled = true;

/** Replaces the caches (size 0 disables caching). */
export function resetCaches(size: number): void {
  cachingEnabled = size > 0;
  caches = make(Math.max(1, size));
}
