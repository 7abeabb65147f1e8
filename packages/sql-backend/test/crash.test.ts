import { sessionManagerCrash } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import {
  canRunPostgresTests,
  dropSchema,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

// The session manager's actor killed under 1,000 sessions stored in PostgreSQL: its supervisor
// restarts it alone, the backend (its pool, its cache, its LISTEN) stays, and every user is still
// routed to.
describe.skipIf(!canRunPostgresTests('SessionManager crash on SqlBackend'))('SqlBackend', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startTestPostgres();
  });
  afterAll(async () => {
    await pg.stop();
  });

  sessionManagerCrash('SqlBackend', {
    createBackend: () => new SqlBackend({ url: pg.url, schema: uniqueSchema('crash') }),
    destroy: async (backend) => {
      await dropSchema(pg.url, backend.schema);
    },
  });
});
