import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import { backendConformance, makeRow, sessionManagerCrash } from '../src/testing/index.ts';

backendConformance('MemoryBackend', { create: () => new MemoryBackend() });
sessionManagerCrash('MemoryBackend', { createBackend: () => new MemoryBackend() });

describe('MemoryBackend specifics', () => {
  it('answers synchronously (the routing hot path stays synchronous)', () => {
    const b = new MemoryBackend();
    b.setSession(makeRow('alice', 'a.example', 'r', 1));
    const rows = b.getSessions('alice', 'a.example');
    expect(Array.isArray(rows)).toBe(true);
    expect(rows).toHaveLength(1);
  });

  it('counts rows through upserts, duplicates and deletes', () => {
    const b = new MemoryBackend();
    const r1 = makeRow('alice', 'a.example', 'r', 1);
    const r2 = makeRow('alice', 'a.example', 'r', 2);
    const r3 = makeRow('alice', 'a.example', 'r', 3);
    b.setSession(r1);
    b.setSession(r1.withPriority(1));
    b.setSession(r2);
    b.setSession(r3);
    expect(b.size).toBe(3);
    b.deleteSession(r2);
    b.deleteSession(r2);
    expect(b.size).toBe(2);
    b.deleteSession(r1);
    b.deleteSession(r3);
    expect(b.size).toBe(0);
    expect(b.useCache('a.example')).toBe(false);
  });
});
