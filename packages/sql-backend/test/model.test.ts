import { sessionManagerModel } from '@otp-chat/session-manager/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { SqlBackend } from '../src/SqlBackend.ts';
import {
  canRunPostgresTests,
  dropSchema,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '../src/testing/index.ts';

/** Runs on PostgreSQL, each run on a fresh schema; `SQL_MODEL_RUNS=1000` for the memory run's count. */
const RUNS = Number(process.env.SQL_MODEL_RUNS ?? 100);

// The session manager's model-based test (`do_route/1` to a full JID, `route_message/1`, the replacement rules) on SqlBackend: the same
// command sequences and reference model as on the memory backend, each run on a fresh schema (the
// migration, the notification connection and the start-up clean-up included), then dropped.
describe.runIf(canRunPostgresTests('SessionManager model on SqlBackend'))('SqlBackend', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startTestPostgres();
  });
  afterAll(async () => {
    await pg.stop();
  });

  sessionManagerModel('SqlBackend', {
    createBackend: () => new SqlBackend({ url: pg.url, schema: uniqueSchema('model'), poolSize: 1 }),
    destroy: async (backend) => {
      await dropSchema(pg.url, backend.schema);
    },
    numRuns: RUNS,
    commands: 50,
    timeoutMs: 120_000,
  });
});
