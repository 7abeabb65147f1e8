// What a connection tells the session manager about its session, as ejabberd_c2s does:
// the info at open (`open_session/1`: {ip, {IP, Port}}, {conn, c2s | c2s_tls | websocket},
// {auth_module, …}), the reason a stream ended given to close_session_unset_presence
// (`process_terminated/2`, `format_reason/2`), and its presence to mod_admin_extra's commands
// (`handle_call(get_presence | {set_presence, Pres})`).
import { eventually } from '@otp-chat/actor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startTags } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';

describe('session info, close reasons and presence calls of a real connection', () => {
  let server: XmppServer | undefined;
  let port = 0;
  const raws: RawClient[] = [];
  let unset: string[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.destroy();
    await server?.stop();
    server = undefined;
  });
  async function start() {
    const s = await startServer();
    server = s.server;
    port = s.port;
    unset = [];
    server.hooks.add(
      'unset_presence_hook',
      'localhost',
      (user, _server, resource, status) => {
        unset.push(`${user}/${resource}: ${status}`);
      },
      50,
    );
    return s.server;
  }
  async function available(user: string, resource: string, presence = '<presence/>') {
    const c = await RawClient.login(port, user, PASSWORD, resource);
    raws.push(c);
    c.write(`${presence}<iq type='get' id='ready' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.waitFor((t) => t.includes('ready'));
    return c;
  }
  /** Resolves once the unset_presence_hook ran `n` times (the close is asynchronous to the client). */
  function unsets(n: number): Promise<string[]> {
    return eventually(
      `${n} unset_presence_hook runs`,
      () => unset,
      (u) => u.length >= n,
    );
  }

  it('info: ip and port of the client as {IP, Port}, conn c2s, authModule the user store', async () => {
    const sm = (await start()).sm;
    const alice = await available('alice', 'r');
    const info = await sm.getUserInfo('alice', 'localhost', 'r');
    expect(info !== 'offline' && info.info).toEqual({
      ip: ['127.0.0.1', alice.socket.localPort],
      conn: 'c2s',
      authModule: 'memory',
    });
    expect(await sm.getUserIp('alice', 'localhost', 'r')).toEqual(['127.0.0.1', alice.socket.localPort]);
  });

  // How the stream ended → the status close_session_unset_presence gets (format_reason/2).
  const endings: [string, (s: XmppServer, c: RawClient) => unknown, string][] = [
    ['the client ends its stream', (_s, c) => c.close(), 'Stream reset by peer'],
    ['the client’s socket is lost', (_s, c) => c.destroy(), 'Connection failed: connection closed'],
    [
      'an administrator kicks the user',
      (s) => s.commands.execute('kick_user', { user: 'alice', host: 'localhost' }, { kind: 'local' }),
      'Stream closed by local host: has been kicked (policy-violation)',
    ],
    [
      'kick_session with a reason',
      (s) =>
        s.commands.execute(
          'kick_session',
          { user: 'alice', host: 'localhost', resource: 'r', reason: 'Stuck connection' },
          { kind: 'local' },
        ),
      'Stream closed by local host: Stuck connection (conflict)',
    ],
    [
      'a new login takes the resource',
      () => RawClient.login(port, 'alice', PASSWORD, 'r').then((c) => raws.push(c)),
      'Stream closed by local host: Replaced by new connection (conflict)',
    ],
    [
      'the host goes down',
      (s) => s.hooks.run('host_down', 'global', 'localhost'),
      'Stream closed by local host: system-shutdown',
    ],
    ['the server stops', (s) => s.stop(), 'stopped by supervisor'],
  ];
  it.each(endings)('%s: "%s"', async (_how, end, status) => {
    const s = await start();
    const alice = await available('alice', 'r');
    await end(s, alice);
    expect(await unsets(1)).toEqual([`alice/r: ${status}`]);
  });

  it('no unset_presence_hook for a session that never was available (close_session only)', async () => {
    await start();
    const c = await RawClient.login(port, 'bob', PASSWORD, 'r');
    raws.push(c);
    c.close();
    await c.closed;
    await available('carol', 'r'); // the next login's presence: bob's close ran before it
    expect(unset).toEqual([]);
  });

  it('user_sessions_info and get_presence read the connections; set_presence sets one', async () => {
    const s = await start();
    const local = { kind: 'local' } as const;
    const alice = await available(
      'alice',
      'desk',
      '<presence><show>dnd</show><status>Busy</status><priority>4</priority></presence>',
    );
    const [info] = (await s.commands.execute(
      'user_sessions_info',
      { user: 'alice', host: 'localhost' },
      local,
    )) as Record<string, unknown>[];
    expect(info).toMatchObject({
      connection: 'c2s',
      ip: '127.0.0.1',
      port: alice.socket.localPort,
      priority: 4,
      status: 'dnd',
      resource: 'desk',
      statustext: 'Busy',
    });
    expect(await s.commands.execute('get_presence', { user: 'alice', host: 'localhost' }, local)).toEqual({
      jid: 'alice@localhost/desk',
      show: 'dnd',
      status: 'Busy',
    });
    // set_presence: the connection takes it as its own: its priority, and its echo to the client.
    await s.commands.execute(
      'set_presence',
      {
        user: 'alice',
        host: 'localhost',
        resource: 'desk',
        type: 'available',
        show: 'away',
        status: 'BRB',
        priority: 9,
      },
      local,
    );
    await alice.waitFor((t) => t.includes('BRB'));
    const echo = startTags(alice.text, 'presence').at(-1);
    expect(echo).toMatchObject({ from: 'alice@localhost/desk', to: 'alice@localhost/desk' });
    expect(await s.commands.execute('get_presence', { user: 'alice', host: 'localhost' }, local)).toEqual({
      jid: 'alice@localhost/desk',
      show: 'away',
      status: 'BRB',
    });
    const info2 = await s.sm.getUserInfo('alice', 'localhost', 'desk');
    expect(info2 !== 'offline' && info2.priority).toBe(9);
  });
});
