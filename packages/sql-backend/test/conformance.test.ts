import { backendConformance } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import {
  canRunPostgresTests,
  dropSchema,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

// The shared backend contract (ejabberd_sm's backend `-callback`s, plus cleanNode) on a real PostgreSQL, with and without the cache.
describe.runIf(canRunPostgresTests('SqlBackend conformance'))('SqlBackend on a real PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startTestPostgres();
  });
  afterAll(async () => {
    await pg.stop();
  });

  for (const cache of [true, false]) {
    backendConformance(`SqlBackend (cache ${cache ? 'on' : 'off'})`, {
      create: () => new SqlBackend({ url: pg.url, schema: uniqueSchema('conf'), cache }),
      destroy: async (backend) => {
        await backend.stop();
        await dropSchema(pg.url, backend.schema);
      },
    });
  }
});
