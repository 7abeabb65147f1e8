import type { MaybePromise } from '@otp-chat/actor';

/**
 * Where the modules keep what must outlive a restart (rosters, roster versions, blocklists, offline
 * messages): ejabberd's per-module `db_type` backends (`mod_roster_mnesia`, `mod_roster_sql`,
 * `mod_offline_sql`, …) behind one small contract. Two shapes per user (`us` is the prepared
 * `luser@lserver`): a map of fields in a named table, and a bounded list.
 *
 * Implementations: {@link MemoryModuleStore} (the default: lost at restart, as the memory session
 * backend), {@link RedisModuleStore}, {@link SqlModuleStore}; the chat server puts them in the same
 * store as its sessions. Every call is bounded in time (a backend that does not answer fails with
 * `ModuleStoreError`), and memory answers synchronously.
 */
export interface ModuleStore {
  readonly name: string;
  /** Every field of the user's map in `table` (an empty map when none). */
  getAll(table: string, us: string): MaybePromise<ReadonlyMap<string, string>>;
  /** One field, or `undefined`. */
  get(table: string, us: string, field: string): MaybePromise<string | undefined>;
  set(table: string, us: string, field: string, value: string): MaybePromise<void>;
  /** Removes one field (nothing when absent). */
  delete(table: string, us: string, field: string): MaybePromise<void>;
  /** Removes the user's whole map in `table` (`remove_user`). */
  deleteAll(table: string, us: string): MaybePromise<void>;
  /** Appends to the user's list in `table` unless it holds `max` already; true when appended. */
  append(table: string, us: string, value: string, max: number): MaybePromise<boolean>;
  /** The user's list in `table`, oldest first, left in place. */
  readList(table: string, us: string): MaybePromise<string[]>;
  /** Removes and returns the user's list in `table`, oldest first. */
  takeAll(table: string, us: string): MaybePromise<string[]>;
  /** Length of the user's list in `table`. */
  count(table: string, us: string): MaybePromise<number>;
  /** Releases what the store opened itself (the memory store has nothing to release). */
  close?(): Promise<void>;
}
