// --backend postgres when the database loses the sessions while the chat server runs: PostgreSQL
// restarted on an empty data directory (a fresh database), or `TRUNCATE sm`. The server notices
// (SqlBackend's per-node marker: BackendInitContext.storeLost), its live connections write their
// rows again with their priority, and a message to a connected user is delivered, not stored
// offline or bounced.
import { silentLogger } from '@otp-chat/actor';
import { decodeSmRow, type SmRow, SqlClient } from '@otp-chat/sql-backend';
import { canRunPostgresTests, PostgresServer } from '@otp-chat/sql-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config.ts';
import { type ChatServer, startChatServer } from '../src/startChatServer.ts';
import './support/trustCertificate.ts';

describe.runIf(canRunPostgresTests('chat-server when PostgreSQL loses the sessions', 'server'))(
  'chat-server --backend postgres when the database loses the sessions',
  () => {
    let pg: PostgresServer;
    let probe: SqlClient;
    const cleanup: Array<() => Promise<unknown>> = [];

    beforeAll(async () => {
      pg = await PostgresServer.start();
      probe = new SqlClient({ url: pg.url, reconnectInitialMs: 10, reconnectMaxMs: 100 });
    });
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });
    afterAll(async () => {
      await probe?.end(0);
      await pg?.stop();
    });

    /** The chat server on the private PostgreSQL, alice and bob logged in, bob available at priority 3. */
    async function setup(): Promise<{ server: ChatServer; alice: TestClient; bob: TestClient }> {
      const config = { ...DEFAULT_CONFIG, port: 0, backend: 'postgres' as const, postgresUrl: pg.url };
      const server = await startChatServer(config, { logger: silentLogger });
      const port = server.address.port;
      const alice = await connectClient({ port, username: 'alice', password: 'alice', resource: 'laptop' });
      const bob = await connectClient({ port, username: 'bob', password: 'bob', resource: 'phone' });
      cleanup.push(async () => {
        await server.stop();
        await Promise.all([alice.offline, bob.offline]);
      });
      await bob.send(xml('presence', {}, xml('priority', {}, '3')));
      await bobsRow();
      return { server, alice, bob };
    }

    /** bob's row in the sm table, at priority 3, once it is there (the database may be down or new). */
    async function bobsRow(): Promise<void> {
      for (;;) {
        const rows = await probe
          .query<SmRow>('probe', "SELECT * FROM sm WHERE server_host = 'localhost' AND username = 'bob'")
          .catch(() => [] as SmRow[]);
        if (rows.some((r) => decodeSmRow(r).priority === 3)) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    /** A message from alice to bob's bare JID reaches bob, and nothing comes back to alice. */
    async function aliceReachesBob(alice: TestClient, bob: TestClient, body: string): Promise<void> {
      await alice.send(
        xml('message', { to: 'bob@localhost', type: 'chat', id: body }, xml('body', {}, body)),
      );
      const got = await bob.waitFor((s) => s.getChildText('body') === body, 10_000);
      expect(got.attrs.from).toBe('alice@localhost/laptop');
      expect(alice.stanzas.filter((s) => s.attrs.type === 'error')).toEqual([]);
    }

    it('PostgreSQL restarted on an empty data directory: the tables come back, the live sessions re-register with their priority, a message to bob is delivered', async () => {
      const { alice, bob } = await setup();
      await pg.restartEmpty();
      await bobsRow();
      const alices = await probe.query<SmRow>('probe', "SELECT * FROM sm WHERE username = 'alice'");
      expect(alices.map((r) => decodeSmRow(r).lresource)).toEqual(['laptop']);
      await aliceReachesBob(alice, bob, 'after a fresh database');
    }, 60_000);

    it('TRUNCATE sm while the server runs: the live sessions re-register at once, a message to bob is delivered', async () => {
      const { alice, bob } = await setup();
      await probe.query('probe', 'TRUNCATE sm');
      await bobsRow();
      await aliceReachesBob(alice, bob, 'after a truncate');
    }, 60_000);
  },
);
