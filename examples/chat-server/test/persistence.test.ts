// Rosters, blocklists and offline messages live in the sessions' store: a restart of the chat
// server on Redis (or PostgreSQL) loses only the sessions.
import { silentLogger } from '@otp-chat/actor';
import { canRunRedisTests, startTestRedis, uniquePrefix } from '@otp-chat/redis-backend/testing';
import { canRunPostgresTests, startTestPostgres } from '@otp-chat/sql-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import xml, { type Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { type ChatServerConfig, DEFAULT_CONFIG } from '../src/config.ts';
import { type ChatServer, startChatServer } from '../src/startChatServer.ts';
import './support/trustCertificate.ts';

const USERS = [...DEFAULT_CONFIG.users, { user: 'carol', password: 'carol' }];

let ids = 0;
async function iq(c: TestClient, type: 'get' | 'set', child: Element): Promise<Element> {
  const id = `p${++ids}`;
  await c.send(xml('iq', { type, id }, child));
  return c.waitFor((s) => s.is('iq') && s.attrs.id === id);
}
const login = (server: ChatServer, user: string) =>
  connectClient({ port: server.address.port, username: user, password: user, resource: 'r' });

/** Before the restart: a subscription, a block and an offline message; after it: all three are there. */
async function restartKeepsState(config: ChatServerConfig, options: { redisPrefix?: string }) {
  const one = await startChatServer(config, { logger: silentLogger, ...options });
  try {
    const alice = await login(one, 'alice');
    const bob = await login(one, 'bob');
    await bob.send(xml('presence'));
    // Asking for the roster makes alice's resource one that gets roster pushes (RFC 6121 §2.1.6).
    await iq(alice, 'get', xml('query', { xmlns: 'jabber:iq:roster' }));
    await alice.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    await bob.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribe');
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await alice.waitFor(
      (s) => s.is('iq') && s.getChild('query')?.getChild('item')?.attrs.subscription === 'to',
    );
    await iq(
      bob,
      'set',
      xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: 'carol@localhost' })),
    );
    // carol is offline: stored with a delay stamp.
    await alice.send(
      xml('message', { to: 'carol@localhost', type: 'chat' }, xml('body', {}, 'kept across the restart')),
    );
    const ping = await iq(alice, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    expect(ping.attrs.type).toBe('result');
    await Promise.all([alice.stop(), bob.stop()]);
  } finally {
    await one.stop();
  }
  const two = await startChatServer(config, { logger: silentLogger, ...options });
  try {
    const carol = await login(two, 'carol');
    await carol.send(xml('presence'));
    const m = await carol.waitFor((s) => s.getChildText('body') === 'kept across the restart');
    expect(m.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    const alice = await login(two, 'alice');
    const roster = await iq(alice, 'get', xml('query', { xmlns: 'jabber:iq:roster' }));
    expect(
      roster
        .getChild('query')!
        .getChildren('item')
        .map((i) => [i.attrs.jid, i.attrs.subscription]),
    ).toEqual([['bob@localhost', 'to']]);
    const bob = await login(two, 'bob');
    const list = await iq(bob, 'get', xml('blocklist', { xmlns: 'urn:xmpp:blocking' }));
    expect(
      list
        .getChild('blocklist')!
        .getChildren('item')
        .map((i) => i.attrs.jid),
    ).toEqual(['carol@localhost']);
    await Promise.all([carol.stop(), alice.stop(), bob.stop()]);
  } finally {
    await two.stop();
  }
}

describe.skipIf(!canRunRedisTests('chat-server: modules on Redis across a restart'))('on Redis', () => {
  it('roster, blocklist and offline messages survive a restart of the server', async () => {
    const redis = await startTestRedis();
    try {
      const config = {
        ...DEFAULT_CONFIG,
        users: USERS,
        port: 0,
        backend: 'redis' as const,
        redisUrl: redis.url,
        clusterUrl: 'none',
      };
      await restartKeepsState(config, { redisPrefix: uniquePrefix('chat-persist') });
    } finally {
      await redis.stop();
    }
  });
});

describe.runIf(canRunPostgresTests('chat-server: modules on PostgreSQL across a restart'))(
  'on PostgreSQL',
  () => {
    it('roster, blocklist and offline messages survive a restart of the server', async () => {
      const pg = await startTestPostgres();
      try {
        const config = {
          ...DEFAULT_CONFIG,
          users: USERS,
          port: 0,
          backend: 'postgres' as const,
          postgresUrl: pg.url,
        };
        await restartKeepsState(config, {});
      } finally {
        await pg.stop();
      }
    });
  },
);
