import { DEFAULTS } from './DEFAULTS.ts';
import { resetCaches } from './internal/caches.ts';

/** Options of {@link configureJidCache}. */
export interface JidCacheOptions {
  /** Entries per LRU cache; `0` disables caching. @default DEFAULTS.cacheSize (10 000) */
  readonly size?: number;
}

/**
 * Replaces (and so empties) the LRU caches of parsed JIDs and of non-ASCII preparations.
 * Call it at start-up to size them, or with `{ size: 0 }` to measure uncached preparation.
 */
export function configureJidCache(options: JidCacheOptions = {}): void {
  resetCaches(options.size ?? DEFAULTS.cacheSize);
}
