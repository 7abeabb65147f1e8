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
});
