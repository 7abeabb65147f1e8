import { twoNodesSuite } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import {
  canRunPostgresTests,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

// The session manager on this backend: two nodes (two actor systems, two backends, two pools)
// on one database see each other's sessions, and each other's cache invalidations (LISTEN/NOTIFY).
describe.runIf(canRunPostgresTests('SessionManager on SqlBackend'))('SessionManager on SqlBackend', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startTestPostgres();
  });
  afterAll(async () => {
    await pg.stop();
  });

  twoNodesSuite('one PostgreSQL database', {
    newStore: () => uniqueSchema('sm'),
    createBackend: (schema) => new SqlBackend({ url: pg.url, schema }),
  });
});
