import type { Clock } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import type { Session } from '../src/Session.ts';
import { SessionCache } from '../src/SessionCache.ts';
import { makeRow } from '../src/testing/index.ts';

/** A clock the test moves by hand. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  } as Clock & { advance(ms: number): void };
}

const ROWS: readonly Session[] = [makeRow('alice', 'a.example', 'r', 1)];
const NEWER: readonly Session[] = [makeRow('alice', 'a.example', 'r', 2)];

function cache(capacity = 10, lifetimeMs = Number.POSITIVE_INFINITY, clock = manualClock()): SessionCache {
  const c = new SessionCache(capacity, lifetimeMs, clock);
  c.setEnabled(true);
  return c;
}

/** A load the test settles by hand. */
function deferred(): {
  promise: Promise<readonly Session[]>;
  resolve(rows: readonly Session[]): void;
  reject(e: unknown): void;
} {
  let resolve!: (rows: readonly Session[]) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<readonly Session[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SessionCache (ejabberd_sm's sm_cache)", () => {
  it('stores an answer whose key nothing invalidated meanwhile', () => {
    const c = cache();
    const t = c.begin('k');
    c.end(t, ROWS);
    expect(c.get('k')).toBe(ROWS);
  });

  it('does not store an answer that raced an invalidation of its key, a flush, or a disabled cache', () => {
    const c = cache();
    const t1 = c.begin('k');
    c.invalidate('k');
    c.end(t1, ROWS);
    expect(c.get('k')).toBeUndefined();
    const t2 = c.begin('k');
    c.flush();
    c.end(t2, ROWS);
    expect(c.get('k')).toBeUndefined();
    c.setEnabled(false);
    c.end(c.begin('k'), ROWS);
    expect(c.get('k')).toBeUndefined();
  });

  it('an invalidation of another key does not matter', () => {
    const c = cache();
    const t = c.begin('k');
    c.invalidate('other');
    c.end(t, ROWS);
    expect(c.get('k')).toBe(ROWS);
  });

  it('concurrent misses share one load; a failure is never cached', async () => {
    const c = cache();
    let loads = 0;
    const d = deferred();
    const load = () => {
      loads++;
      return d.promise;
    };
    const a = c.read('k', load);
    const b = c.read('k', load);
    expect(loads).toBe(1);
    d.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await expect(b).rejects.toThrow('down');
    expect(c.get('k')).toBeUndefined();
    await c.read('k', async () => ROWS);
    expect(c.get('k')).toBe(ROWS);
  });

  it('is an LRU of the given capacity', () => {
    const c = cache(2);
    for (const k of ['a', 'b']) c.end(c.begin(k), ROWS);
    c.get('a'); // a is now the most recently used
    c.end(c.begin('c'), ROWS);
    expect(c.get('a')).toBe(ROWS);
    expect(c.get('b')).toBeUndefined();
    expect(c.size).toBe(2);
  });

  it('entries expire after the lifetime when one is set', () => {
    const clock = manualClock();
    const c = cache(10, 1000, clock);
    c.end(c.begin('k'), ROWS);
    clock.advance(999);
    expect(c.get('k')).toBe(ROWS);
    clock.advance(2);
    expect(c.get('k')).toBeUndefined();
  });

  describe('endWrite: a write that answers the rows after it', () => {
    it('stores its rows when nothing invalidated the key meanwhile', () => {
      const c = cache();
      c.end(c.begin('k'), ROWS);
      c.endWrite(c.begin('k'), NEWER);
      expect(c.get('k')).toBe(NEWER);
    });

    it('makes reads still in flight uncacheable: their answer may predate the write', () => {
      const c = cache();
      const read = c.begin('k');
      c.endWrite(c.begin('k'), NEWER);
      c.end(read, ROWS); // the older answer arrives last
      expect(c.get('k')).toBe(NEWER);
    });

    it('stores nothing, and drops the entry, when the key was invalidated while it was in flight', () => {
      const c = cache();
      c.end(c.begin('k'), ROWS);
      const w = c.begin('k');
      c.invalidate('k'); // another node's write
      c.end(c.begin('k'), ROWS);
      c.endWrite(w, NEWER);
      expect(c.get('k')).toBeUndefined();
    });
  });
});
