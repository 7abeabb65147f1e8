// Mutation testing (`pnpm mutate`): Stryker puts one small bug at a time into the sources of
// actor, supervisor and session-manager and runs their tests against it; a mutant that no test
// kills is a behaviour the suite does not pin. Slow (tens of minutes per package on 2 cores):
// not part of `pnpm test` nor CI. Incremental: a second run only re-tests mutants whose code or
// covering tests changed (`reports/stryker-incremental.json`). One package at a time:
//   pnpm mutate --mutate 'packages/actor/src/**/*.ts'
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'packages/actor/src/**/*.ts',
    'packages/supervisor/src/**/*.ts',
    'packages/session-manager/src/**/*.ts',
    '!packages/*/src/index.ts',
    '!packages/*/src/testing/**',
  ],
  coverageAnalysis: 'perTest',
  // The machine has 2 cores shared with other work.
  concurrency: 2,
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
