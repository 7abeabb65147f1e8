// The example end to end, as `pnpm --filter @otp-chat/example-cluster start` runs it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { canRunRedisTests, redisAvailability } from '@otp-chat/redis-backend/testing';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe.skipIf(!canRunRedisTests('examples/cluster'))('examples/cluster', () => {
  it('three nodes chat, one is killed, its sessions are cleaned and a message waits offline', async () => {
    const a = redisAvailability();
    const args = a.kind === 'url' ? ['--redis-url', a.url] : [];
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    expect(stdout).toMatch(
      /sessions in the store: alice\/home on node1@localhost, bob\/home on node2@localhost, carol\/home on node3@localhost/,
    );
    for (const line of [
      'carol got "hello carol, this is bob" from bob@localhost/home',
      'alice got "hello alice, this is carol" from carol@localhost/home',
      'bob got "hello bob, this is alice" from alice@localhost/home',
    ]) {
      expect(stdout).toContain(line);
    }
    expect(stdout).toMatch(/node3@localhost's sessions cleaned [\d.]+ s after the kill/);
    expect(stdout).toMatch(
      /sessions in the store: alice\/home on node1@localhost, bob\/home on node2@localhost\n/,
    );
    expect(stdout).toContain(
      'carol got "carol, are you there?" from alice@localhost/home (kept offline, delivered now)',
    );
    expect(stdout).toContain('done');
  }, 90_000);
});
