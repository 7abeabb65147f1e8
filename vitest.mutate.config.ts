import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant (`pnpm mutate`): those of the packages it mutates.
// Stryker copies the repository into a sandbox but links node_modules back to the original, so a
// workspace import (`@otp-chat/actor`) would load the original, unmutated sources: the aliases
// point each package at the sandbox's own copy, so a mutant of the actor runtime is also judged by
// the supervisor's and the session manager's tests. MUTATE_ISOLATED=1 drops them: each package is
// then judged by its own tests only.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
// As vitest.config.ts: workspace packages resolve to their sources ("@otp-chat/source"), not dist/.
const conditions = ['@otp-chat/source', 'module', 'node', 'development|production'];
const packages = ['actor', 'supervisor', 'event-bus', 'jid', 'session-manager'];
const alias =
  process.env.MUTATE_ISOLATED === '1'
    ? []
    : packages.flatMap((p) => [
        { find: `@otp-chat/${p}/testing`, replacement: here(`packages/${p}/src/testing/index.ts`) },
        { find: new RegExp(`^@otp-chat/${p}$`), replacement: here(`packages/${p}/src/index.ts`) },
      ]);

export default defineConfig({
  resolve: { alias },
  ssr: { resolve: { conditions } },
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
