// CI guard: knip (configured in knip.jsonc, each ignore there justified) finds no unused file,
// dependency, export or binary in the workspace, and, in production mode, no runtime dependency
// that only tests, benchmarks or scripts use (it belongs in devDependencies).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// knip's exports do not include its package.json: read it where pnpm linked it for the root.
const KNIP_DIR = join(ROOT, 'node_modules', 'knip');
const KNIP = join(
  KNIP_DIR,
  (JSON.parse(readFileSync(join(KNIP_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin
    .knip!,
);

function knip(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [KNIP, '--no-progress', '--no-config-hints', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('knip', () => {
  it('finds nothing unused in the workspace', () => {
    const { status, output } = knip();
    expect(output).toBe('');
    expect(status).toBe(0);
  }, 120_000);

  it('finds no runtime dependency that only tests use (production mode)', () => {
    const { status, output } = knip('--production', '--include', 'dependencies');
    expect(output).toBe('');
    expect(status).toBe(0);
  }, 120_000);
});
