// Smoke test of the example: the printed story, in-process and as `pnpm start` runs it (from the build).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.ts';

describe('examples/supervision-tree', () => {
  it('prints starts, crashes, restarts, the intensity escalation and the reverse-order stop', async () => {
    const lines: string[] = [];
    await main({ print: (line) => lines.push(line), handleSignals: false });
    const text = lines.join('\n');
    // Start order, depth first as each supervisor starts its children before returning.
    const started = lines.filter((l) => l.includes(' started '));
    expect(started.slice(0, 9)).toEqual([
      '[app] started ticker',
      '[pipeline] started source',
      '[pipeline] started parser',
      '[pipeline] started sink',
      '[app] started pipeline',
      '[flaky] started crashy',
      '[app] started flaky',
      '[app] started pool',
      '[pool] started conn',
    ]);
    expect(text).toContain('[flaky] crashy exited: {error: Error: crashy crashed} -> restart');
    expect(text).toContain('[flaky] restarted crashy (1 restart(s) in the window)');
    // rest_for_one: parser and sink restart, source does not.
    expect(text).toContain('[pipeline] restarted parser');
    expect(text).toContain('[pipeline] restarted sink');
    expect(text).not.toContain('[pipeline] restarted source');
    expect(text).toContain('[pool] restarted conn');
    expect(text).toContain('pong from conn-1; pool: 3 connections');
    expect(text).toContain('[flaky] INTENSITY EXCEEDED: 2 restarts > 1 in 5 s -> the supervisor gives up');
    expect(text).toContain('[app] flaky exited: shutdown -> restart');
    expect(text).toContain('[app] restarted flaky (1 restart(s) in the window)');
    expect(text).toContain('pong from crashy (a fresh flaky supervisor and a fresh crashy)');
    // Reverse-order stop of the root's children.
    const stops = lines.filter((l) => l.startsWith('[app] stopped '));
    expect(stops).toEqual([
      '[app] stopped pool',
      '[app] stopped flaky',
      '[app] stopped pipeline',
      '[app] stopped ticker',
    ]);
    expect(lines.at(-1)).toBe('== stopped (0 actors left)');
  });

  it('runs from the build with plain node and exits by itself (what `pnpm start` does)', () => {
    // dist/ is the build `pnpm test` makes before vitest; no TypeScript loader, no source condition.
    const script = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    expect(existsSync(script), `${script} is missing: build first (pnpm build)`).toBe(true);
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000, env });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('INTENSITY EXCEEDED');
    expect(run.stdout.trim().split('\n').at(-1)).toBe('== stopped (0 actors left)');
  });
});
