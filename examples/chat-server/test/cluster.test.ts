// Real @xmpp/client sessions on chat-server nodes in separate processes, one Redis (the session
// store and the cluster): full JID, bare JID by priority, a resource conflict and
// max_user_sessions across nodes, and a message to a user whose node was killed. Every node is a
// child process started with the server's own flags; every child always exits.
import { canRunRedisTests, startTestRedis, type TestRedis } from '@otp-chat/redis-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatNode } from './support/ChatNode.ts';
import './support/trustCertificate.ts';

const FAST = ['--cluster-heartbeat', '100', '--cluster-timeout', '700'];

describe.skipIf(!canRunRedisTests('chat-server nodes in a cluster'))('chat-server nodes in a cluster', () => {
  let redis: TestRedis;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => {})));
    await ChatNode.stopAll();
  });
  afterAll(async () => {
    await ChatNode.stopAll();
    await redis?.stop();
  });

  /** Nodes on a fresh key prefix (a fresh Redis database number per test keeps them apart). */
  let db = 0;
  async function nodes(n: number, extra: readonly string[] = []): Promise<ChatNode[]> {
    const url = `${redis.url}/${++db}`;
    return Promise.all(
      Array.from({ length: n }, () =>
        ChatNode.start(['--backend', 'redis', '--redis-url', url, ...FAST, ...extra]),
      ),
    );
  }

  async function login(node: ChatNode, username: string, resource: string): Promise<TestClient> {
    const c = await connectClient({ port: node.port, username, password: username, resource });
    clients.push(c);
    return c;
  }

  const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));
  const presence = (priority: number) => xml('presence', {}, xml('priority', {}, String(priority)));

  /**
   * Sends available presence and waits for its echo (the server routes it to the user's own
   * resources once the priority is stored), so that other nodes route by it.
   */
  async function available(client: TestClient, priority: number): Promise<void> {
    await client.send(presence(priority));
    await client.waitFor((s) => s.is('presence') && s.attrs.from === client.jid);
  }

  it('a chat to a full JID and to a bare JID (by priority) crosses nodes', async () => {
    const [n1, n2] = await nodes(2);
    const alice = await login(n1!, 'alice', 'laptop');
    const bobLow = await login(n1!, 'bob', 'phone');
    const bobHigh = await login(n2!, 'bob', 'desk');
    await available(bobLow, 1);
    await available(bobHigh, 5);
    await alice.send(chat('bob@localhost/phone', 'to the phone'));
    await alice.send(chat('bob@localhost', 'to the best resource'));
    const full = await bobLow.waitFor((s) => s.getChildText('body') === 'to the phone');
    expect(full.attrs.from).toBe('alice@localhost/laptop');
    const bare = await bobHigh.waitFor((s) => s.getChildText('body') === 'to the best resource');
    expect(bare.attrs.from).toBe('alice@localhost/laptop');
    // And back, from node 2 to node 1.
    await bobHigh.send(chat('alice@localhost/laptop', 'hi alice'));
    expect((await alice.waitFor((s) => s.getChildText('body') === 'hi alice')).attrs.from).toBe(
      'bob@localhost/desk',
    );
    expect(bobLow.stanzas.some((s) => s.getChildText('body') === 'to the best resource')).toBe(false);
  });

  it('the same full JID on another node replaces the first session (conflict), nobody else', async () => {
    const [n1, n2] = await nodes(2);
    const first = await login(n1!, 'alice', 'r');
    const bob = await login(n2!, 'bob', 'r');
    await login(n2!, 'alice', 'r');
    await first.offline;
    expect(first.streamErrors).toEqual([{ condition: 'conflict', text: 'Replaced by new connection' }]);
    const pong = await bob.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', 'urn:xmpp:ping')),
    );
    expect(pong.attrs.type).toBe('result');
    expect(bob.streamErrors).toEqual([]);
  });

  it('max_user_sessions across nodes: the oldest session, on the other node, is kicked', async () => {
    const [n1, n2] = await nodes(2, ['--max-user-sessions', '2']);
    const oldest = await login(n1!, 'alice', 'a');
    const second = await login(n2!, 'alice', 'b');
    await login(n2!, 'alice', 'c');
    await oldest.offline;
    expect(oldest.streamErrors.map((e) => e.condition)).toEqual(['conflict']);
    expect(second.streamErrors).toEqual([]);
  });

  it('a node killed: its sessions are cleaned, and a message to its user is kept offline for the next login', async () => {
    const [n1, n2] = await nodes(2);
    const alice = await login(n1!, 'alice', 'laptop');
    const bob = await login(n2!, 'bob', 'phone');
    await available(bob, 1);
    await alice.send(chat('bob@localhost', 'before'));
    await bob.waitFor((s) => s.getChildText('body') === 'before');
    await n2!.kill9();
    // Until node 1 cleaned bob's session (a ping to bob's bare JID is answered by the server on the
    // account's behalf either way; the session list is what changes): poll with a probe message
    // that, once bob has no session, goes to offline storage.
    let stored = false;
    for (let i = 0; i < 100 && !stored; i++) {
      await alice.send(chat('bob@localhost', `probe ${i}`));
      const again = await connectClient({
        port: n1!.port,
        username: 'bob',
        password: 'bob',
        resource: `check${i}`,
      });
      clients.push(again);
      await again.send(presence(0));
      const got = await again
        .waitFor((s) => s.getChildText('body')?.startsWith('probe') === true, 300)
        .catch(() => undefined);
      if (got !== undefined) {
        // Delivered from offline storage (a XEP-0203 delay) once the dead session was gone.
        stored = got.getChild('delay', 'urn:xmpp:delay') !== undefined;
      }
      await again.stop();
    }
    expect(stored).toBe(true);
  });

  it('a node killed: the contacts of its available sessions, on another node, get unavailable (unset_presence_hook on clean-up)', async () => {
    const [n1, n2] = await nodes(2);
    const alice = await login(n1!, 'alice', 'laptop');
    const bob = await login(n2!, 'bob', 'phone');
    // alice subscribes to bob's presence (bob approves), across the nodes.
    await alice.send(xml('iq', { type: 'get', id: 'r1' }, xml('query', { xmlns: 'jabber:iq:roster' })));
    await alice.waitFor((s) => s.attrs.id === 'r1');
    await available(alice, 0);
    await available(bob, 0);
    await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    await bob.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribe');
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    // Approval sends bob's presence to alice (`route_presence_change`).
    await alice.waitFor((s) => s.is('presence') && s.attrs.from === bob.jid && s.attrs.type === undefined);
    await n2!.kill9();
    const gone = await alice.waitFor(
      (s) => s.is('presence') && s.attrs.from === bob.jid && s.attrs.type === 'unavailable',
      10_000,
    );
    expect(gone.attrs.to).toBe(alice.jid);
  });
});
