import { twoNodesSuite } from '@otp-chat/session-manager/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import { SqlClient } from '../src/SqlClient.ts';
import { migrate, SM_SCHEMA } from '../src/schema.ts';
import {
  canRunPostgresTests,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

// The session manager on this backend: two nodes (two actor systems, two backends, two pools)
// on one database see each other's sessions, and each other's cache invalidations (LISTEN/NOTIFY);
// a dead node's 20k rows are cleaned through the session manager, a hook each.
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
    // The dead node's rows, made by the database itself in the backend's layout (smRow.ts).
    seedRows: async (schema, node, host, count) => {
      const client = new SqlClient({ url: pg.url });
      try {
        await migrate(client, schema, SM_SCHEMA);
      } finally {
        await client.end();
      }
      const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(
          `INSERT INTO "${schema}".sm
           SELECT 1700000000000000 + g, '[' || to_json($1::text)::text || ',' || g || ',' || g || ']',
                  $1, 'u' || (g - 1), $2, 'r', '', '{}'
           FROM generate_series(1, $3::int) AS g`,
          [node, host, count],
        );
      } finally {
        await admin.end({ timeout: 1 });
      }
    },
  });
});
