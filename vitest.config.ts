import { defineConfig } from 'vitest/config';

// The workspace runs its tests against sources, not builds: the "@otp-chat/source" export condition of
// every package points at src/*.ts (tsc reads it through customConditions in tsconfig.base.json).
const SOURCE_CONDITION = '@otp-chat/source';
// Tests run in Node, so vite resolves with its server conditions (`defaultServerConditions`): ours first.
const conditions = [SOURCE_CONDITION, 'module', 'node', 'development|production'];

// One vitest config for the whole workspace: every package's and example's tests, plus test/.
export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Child processes the tests start (`node --import tsx fixture.ts`) resolve sources too.
    env: {
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--conditions=${SOURCE_CONDITION}`].filter(Boolean).join(' '),
    },
  },
});
