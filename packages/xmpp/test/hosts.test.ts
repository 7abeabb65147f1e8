// Virtual hosts added and removed while the server runs, through the global `host_up` and
// `host_down` hooks as `ejabberd_config:reload/0` runs them: the server accepts and routes a new
// host and restarts its modules over it (gen_mod's start_modules/stop_modules), the session
// manager serves it; a removed host's streams end with <system-shutdown/> and new ones are refused.
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, RawClient, streamOpen, type TestClient } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';

const NEW = 'new.example';

describe('virtual hosts at run time (host_up, host_down)', () => {
  let server: XmppServer | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    await server?.stop();
    server = undefined;
  });

  it('host_up: a client logs in on the new host, its modules answer there; host_down: its streams end, new ones are refused', async () => {
    const started = await startServer();
    server = started.server;
    const { port, users } = started;
    await users.register('alice', NEW, PASSWORD);
    // Before: the host is unknown.
    const early = await RawClient.connect(port);
    early.write(streamOpen(NEW));
    await early.closed;
    expect(early.text).toContain('<host-unknown');

    await server.hooks.run('host_up', 'global', NEW);
    expect(server.hosts).toEqual(['localhost', NEW]);
    expect(server.sm.hosts).toEqual(['localhost', NEW]);
    const alice = await connectClient({
      port,
      domain: NEW,
      username: 'alice',
      password: PASSWORD,
      resource: 'r',
    });
    clients.push(alice);
    expect(alice.jid).toBe(`alice@${NEW}/r`);
    // mod_ping runs on the new host (the host itself and a bare JID there), and on the old one.
    for (const to of [NEW, `bob@${NEW}`, 'localhost']) {
      await alice.send(
        xml('iq', { type: 'get', id: `p-${to}`, to }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      );
      const pong = await alice.waitFor((s) => s.is('iq') && s.attrs.id === `p-${to}`);
      expect(pong.attrs.type).toBe('result');
    }
    // mod_offline stores for a user of the new host, and delivers at the first available presence.
    await users.register('carol', NEW, PASSWORD);
    await alice.send(xml('message', { to: `carol@${NEW}`, type: 'chat' }, xml('body', {}, 'later')));
    await alice.send(
      xml('iq', { type: 'get', id: 'sync', to: NEW }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    await alice.waitFor((s) => s.attrs.id === 'sync');
    const carol = await connectClient({
      port,
      domain: NEW,
      username: 'carol',
      password: PASSWORD,
      resource: 'r',
    });
    clients.push(carol);
    await carol.send(xml('presence'));
    const stored = await carol.waitFor((s) => s.is('message'));
    expect(stored.getChildText('body')).toBe('later');
    expect(stored.getChild('delay', 'urn:xmpp:delay')).toBeDefined();

    await server.hooks.run('host_down', 'global', NEW);
    for (const c of [alice, carol]) {
      await c.offline;
      expect(c.streamErrors).toEqual([{ condition: 'system-shutdown', text: undefined }]);
    }
    expect(server.hosts).toEqual(['localhost']);
    expect(server.sm.hosts).toEqual(['localhost']);
    expect(await server.sm.connectedUsersNumber()).toBe(0);
    const late = await RawClient.connect(port);
    late.write(streamOpen(NEW));
    await late.closed;
    expect(late.text).toContain('<host-unknown');
    // The old host is untouched: its modules still run there.
    const bob = await connectClient({ port, username: 'bob', password: PASSWORD, resource: 'r' });
    clients.push(bob);
    await bob.send(
      xml('iq', { type: 'get', id: 'p', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    expect((await bob.waitFor((s) => s.attrs.id === 'p')).attrs.type).toBe('result');
    // A stanza to the removed host is not routed: remote-server-not-found (there is no s2s).
    await bob.send(xml('message', { to: `alice@${NEW}`, type: 'chat', id: 'gone' }, xml('body', {}, 'x')));
    const bounce = await bob.waitFor((s) => s.attrs.id === 'gone');
    expect(bounce.getChild('error')?.getChild('remote-server-not-found')).toBeDefined();
  });
});
