import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant (`pnpm mutate`): the packages it mutates, nothing
// else, so a mutant of the actor runtime is judged by the tests of actor, supervisor and
// session-manager (the layers built directly on it).
export default defineConfig({
  test: {
    include: [
      'packages/actor/test/**/*.test.ts',
      'packages/supervisor/test/**/*.test.ts',
      'packages/session-manager/test/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
