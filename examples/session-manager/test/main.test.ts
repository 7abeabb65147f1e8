import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { walkthrough } from '../src/main.ts';

describe('examples/session-manager walkthrough', () => {
  it('routes by priority, replaces a session, kicks by command, bounces when offline', async () => {
    const lines = await walkthrough(() => {});
    const text = lines.join('\n');
    expect(lines[0]).toBe(
      '0. application started: root -> session_manager -> backend supervisor -> backend:0:memory',
    );
    expect(lines.at(-1)).toBe('7. application stopped');
    // Step 2: tie at priority 5 between phone and desktop; "phone" > "desktop" gets the unmarked copy.
    expect(lines).toContain('  alice/phone got "hello alice"');
    expect(lines).toContain('  alice/desktop got "hello alice" (sm_copy)');
    expect(text).not.toContain('alice/tablet got "hello alice"');
    expect(lines).toContain('  alice/tablet got "hello tablet"');
    expect(lines).toContain('  alice/phone got replaced: closing');
    expect(text).toContain('kicked 3 sessions; connected_users_number = 0');
    expect(text).toMatch(/router <- <message[^>]*type="error"[\s\S]*service-unavailable/);
  });

  it('runs from the build with plain node (what `pnpm start` does)', () => {
    // dist/ is the build `pnpm test` makes before vitest; no TypeScript loader, no source condition.
    const script = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    expect(existsSync(script), `${script} is missing: build first (pnpm build)`).toBe(true);
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000, env });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('7. application stopped');
  });
});
