import { fileURLToPath } from 'node:url';
import { twoProcessSuite } from '@otp-chat/session-manager/testing';
import { describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import { canRunPostgresTests, startTestPostgres, uniqueSchema } from '../src/testing/index.ts';

// Two session managers in two Node processes on one PostgreSQL database: the sm table is what the
// nodes share, LISTEN/NOTIFY what keeps each one's cache in step with the other's writes.
describe.runIf(canRunPostgresTests('two session managers in two processes on one PostgreSQL'))(
  'SqlBackend',
  () => {
    twoProcessSuite('one PostgreSQL database', {
      fixture: fileURLToPath(new URL('./fixtures/smNode.ts', import.meta.url)),
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      start: async () => {
        const pg = await startTestPostgres();
        const schema = uniqueSchema('two_proc');
        return {
          backend: new SqlBackend({ url: pg.url, schema }),
          fixtureArgs: [pg.url, schema],
          stop: () => pg.stop(),
        };
      },
    });
  },
);
