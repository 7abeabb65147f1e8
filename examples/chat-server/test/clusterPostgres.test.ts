// Two chat-server processes whose sessions live in one PostgreSQL database and whose messages
// cross over one Redis (`--backend postgres --cluster-url redis://…`): real @xmpp/client sessions
// chat across the nodes, and when one node is killed (kill -9) the survivor removes its rows from
// the `sm` table and runs sm_remove_connection_hook for each (the chat server logs each one).
// Every node is a child process started with the server's own flags; every child always exits.
import { canRunRedisTests, startTestRedis, type TestRedis } from '@otp-chat/redis-backend/testing';
import { decodeSmRow, type SmRow, SqlClient } from '@otp-chat/sql-backend';
import { canRunPostgresTests, startTestPostgres, type TestPostgres } from '@otp-chat/sql-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatNode } from './support/ChatNode.ts';
import './support/trustCertificate.ts';

const FAST = ['--cluster-heartbeat', '100', '--cluster-timeout', '700'];
const SUITE = 'chat-server nodes on one PostgreSQL, messages over Redis';
// Both checks run (each skip is reported on its own).
const canRun = [canRunPostgresTests(SUITE), canRunRedisTests(SUITE)].every(Boolean);

describe.runIf(canRun)(SUITE, () => {
  let pg: TestPostgres;
  let redis: TestRedis;
  let probe: SqlClient;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
    probe = new SqlClient({ url: pg.url });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    await ChatNode.stopAll();
  });
  afterAll(async () => {
    await ChatNode.stopAll();
    await probe?.end(0);
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  function nodes(n: number): Promise<ChatNode[]> {
    const args = ['--backend', 'postgres', '--postgres-url', pg.url, '--cluster-url', redis.url, ...FAST];
    return Promise.all(Array.from({ length: n }, () => ChatNode.start(args, { logLevel: 'info' })));
  }

  async function login(node: ChatNode, username: string, resource: string): Promise<TestClient> {
    const c = await connectClient({ port: node.port, username, password: username, resource });
    clients.push(c);
    return c;
  }

  /** The rows of the `sm` table, as `user/resource@node`. */
  async function smRows(): Promise<string[]> {
    const rows = await probe.query<SmRow>('probe', 'SELECT * FROM sm');
    return rows
      .map(decodeSmRow)
      .map((s) => `${s.luser}/${s.lresource}@${s.sid.ref.node}`)
      .sort();
  }

  const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));

  it('a chat crosses the nodes; a killed node’s rows are removed from PostgreSQL by the survivor, a hook each', async () => {
    const [n1, n2] = (await nodes(2)) as [ChatNode, ChatNode];
    const alice = await login(n1, 'alice', 'laptop');
    const bob = await login(n2, 'bob', 'phone');
    await bob.send(xml('presence', {}, xml('priority', {}, '1')));
    await bob.waitFor((s) => s.is('presence') && s.attrs.from === bob.jid);
    expect(await smRows()).toEqual([`alice/laptop@${n1.node}`, `bob/phone@${n2.node}`]);

    // Both ways: to bob's bare JID (node 1 reads bob's row from PostgreSQL, the message crosses
    // over Redis) and back to alice's full JID.
    await alice.send(chat('bob@localhost', 'hi bob'));
    expect((await bob.waitFor((s) => s.getChildText('body') === 'hi bob')).attrs.from).toBe(
      'alice@localhost/laptop',
    );
    await bob.send(chat('alice@localhost/laptop', 'hi alice'));
    expect((await alice.waitFor((s) => s.getChildText('body') === 'hi alice')).attrs.from).toBe(
      'bob@localhost/phone',
    );

    // Node 2 dies without a word: node 1 sees it down and cleans its rows.
    await n2.kill9();
    const deadline = Date.now() + 30_000;
    while ((await smRows()).some((r) => r.endsWith(`@${n2.node}`))) {
      if (Date.now() > deadline) throw new Error(`${n2.node}'s rows were not removed within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await smRows()).toEqual([`alice/laptop@${n1.node}`]);
    // sm_remove_connection_hook ran once for bob's session, on the survivor.
    let removed = n1.logLines().filter((l) => l.msg === 'chat-server: a dead node’s session removed');
    for (let i = 0; i < 100 && removed.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      removed = n1.logLines().filter((l) => l.msg === 'chat-server: a dead node’s session removed');
    }
    expect(removed.map((l) => [l.jid, l.node])).toEqual([['bob@localhost/phone', n2.node]]);

    // bob has no session now: a message to him is kept offline, and reaches him on node 1.
    await alice.send(chat('bob@localhost', 'while you were away'));
    // Stored (the modules keep offline messages in PostgreSQL too, table mod_list) before bob
    // comes back: routing it waits on the store, and a login could otherwise overtake it.
    for (let i = 0; i < 100; i++) {
      const [row] = await probe.query<{ n: string }>(
        'probe',
        "SELECT count(*) AS n FROM mod_list WHERE us = 'bob@localhost'",
      );
      if (Number(row?.n) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const again = await login(n1, 'bob', 'desk');
    await again.send(xml('presence'));
    const got = await again.waitFor((s) => s.getChildText('body') === 'while you were away');
    expect(got.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    expect(alice.stanzas.filter((s) => s.attrs.type === 'error')).toEqual([]);
  }, 60_000);
});
