// mod_admin_extra's session commands, with ejabberd's names, arguments, result fields and policies
// (read from processone/ejabberd's src/mod_admin_extra.erl: `get_commands_spec/0` and the
// functions it names). The connection actors here answer ejabberd_c2s's get_presence and
// set_presence calls as `ejabberd_c2s:handle_call/3` does; @otp-chat/xmpp's test runs the same
// commands against real connections.
import { type ActorRef, type GenServer, reply } from '@otp-chat/actor';
import { AccessDeniedError, type Caller, InvalidArgumentsError } from '@otp-chat/event-bus';
import xml, { type Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { type ConnectionCall, isConnectionCall } from '../src/ConnectionCall.ts';
import { SessionNotFoundError } from '../src/errors.ts';
import type { SessionManager } from '../src/SessionManager.ts';
import { HOST, startSm } from './harness.ts';

const OTHER = 'other.example';
const local: Caller = { kind: 'local' };
const admin: Caller = { kind: 'admin', user: 'root', host: HOST };

interface ConnState {
  presence: Element | undefined;
  readonly jid: string;
  readonly garbled: boolean;
  readonly calls: ConnectionCall[];
  readonly received: unknown[];
}

/** A connection actor answering `get_presence` and `set_presence` as ejabberd_c2s does. */
const connection: GenServer<ConnState, ConnState, ConnectionCall, unknown, never, unknown> = {
  init: (state) => ({ ok: state }),
  handleCall: (request, from, state) => {
    // A connection that answers nonsense (mod_admin_extra's get_presence/1 catches any failure).
    if (state.garbled) return { reply: 'not a presence', state };
    if (!isConnectionCall(request)) return { reply: undefined, state };
    state.calls.push(request);
    if (request.type === 'get_presence') {
      const [full, bare] = [state.jid, state.jid.split('/')[0]!];
      return {
        reply: state.presence ?? xml('presence', { from: full, to: bare, type: 'unavailable' }),
        state,
      };
    }
    // `handle_call({set_presence, Pres}, …)`: reply ok, then process it as its own presence.
    reply(from, 'ok');
    state.presence = request.presence.attrs.type === 'unavailable' ? undefined : request.presence;
    return { noreply: true, state };
  },
  handleInfo: (message, state) => {
    state.received.push(message);
    return { noreply: true, state };
  },
};

interface Opened {
  readonly ref: ActorRef;
  readonly state: ConnState;
}

async function open(
  sm: SessionManager,
  user: string,
  resource: string,
  options: {
    host?: string;
    priority?: number;
    show?: string;
    status?: string;
    info?: Record<string, unknown>;
    garbled?: boolean;
  } = {},
): Promise<Opened> {
  const host = options.host ?? HOST;
  const jid = `${user}@${host}/${resource}`;
  const presence =
    options.priority === undefined
      ? undefined
      : xml(
          'presence',
          { from: jid, to: `${user}@${host}` },
          ...(options.show === undefined ? [] : [xml('show', {}, options.show)]),
          ...(options.status === undefined ? [] : [xml('status', {}, options.status)]),
          xml('priority', {}, String(options.priority)),
        );
  const state: ConnState = {
    presence,
    jid,
    garbled: options.garbled ?? false,
    calls: [],
    received: [],
  };
  const ref = await sm.system.spawn(connection, state);
  const sid = sm.makeSid(ref);
  await sm.openSession(sid, user, host, resource, undefined, options.info ?? {});
  if (presence !== undefined) await sm.setPresence(sid, user, host, resource, options.priority!, presence);
  return { ref, state };
}

async function scene() {
  let nowMs = 1_000_000_000;
  const started = await startSm({ hosts: [HOST, OTHER], wallClock: () => nowMs });
  const sm = started.sm;
  await open(sm, 'alice', 'desk', {
    priority: 5,
    show: 'dnd',
    status: 'Busy\nmeeting',
    info: { conn: 'c2s_tls', ip: ['192.0.2.1', 40000], authModule: 'memory' },
  });
  await open(sm, 'alice', 'phone', { info: { conn: 'c2s', ip: ['::1', 41000] } }); // bound, no presence
  await open(sm, 'alice', 'web', { priority: 0, info: { conn: 'websocket', ip: ['198.51.100.7', 443] } });
  await open(sm, 'alice', 'stuck', { priority: -3, garbled: true }); // no ip nor conn in its info either
  await open(sm, 'bob', 'laptop', { host: OTHER, priority: 1, show: 'away' });
  nowMs += 42_000;
  return { ...started, sm };
}

describe('mod_admin_extra session commands', () => {
  it('user_sessions_info: connection, ip, port, priority (-1 for none), node, uptime, status, resource, statustext, per resource', async () => {
    const { sm } = await scene();
    const info = await sm.commands.execute('user_sessions_info', { user: 'alice', host: HOST }, local);
    expect(info).toEqual([
      {
        connection: 'c2s_tls',
        ip: '192.0.2.1',
        port: 40000,
        priority: 5,
        node: 'node1',
        uptime: 42,
        status: 'dnd',
        resource: 'desk',
        statustext: 'Busy\nmeeting',
      },
      {
        connection: 'c2s',
        ip: '::1',
        port: 41000,
        priority: -1,
        node: 'node1',
        uptime: 42,
        status: 'unavailable',
        resource: 'phone',
        statustext: '',
      },
      {
        connection: 'websocket',
        ip: '198.51.100.7',
        port: 443,
        priority: 0,
        node: 'node1',
        uptime: 42,
        status: 'available',
        resource: 'web',
        statustext: '',
      },
      // Its connection does not answer get_presence with a presence: offline (get_presence/1's catch).
      {
        connection: '',
        ip: '',
        port: 0,
        priority: -3,
        node: 'node1',
        uptime: 42,
        status: 'offline',
        resource: 'stuck',
        statustext: '',
      },
    ]);
    expect(await sm.commands.execute('user_sessions_info', { user: 'nobody', host: HOST }, local)).toEqual(
      [],
    );
    await sm.stop();
  });

  it('connected_users_info: every session, its full JID first', async () => {
    const { sm } = await scene();
    const all = (await sm.commands.execute('connected_users_info', {}, local)) as { jid: string }[];
    expect(all.map((e) => e.jid).sort()).toEqual([
      `alice@${HOST}/desk`,
      `alice@${HOST}/phone`,
      `alice@${HOST}/stuck`,
      `alice@${HOST}/web`,
      `bob@${OTHER}/laptop`,
    ]);
    expect(all.find((e) => e.jid === `bob@${OTHER}/laptop`)).toEqual({
      jid: `bob@${OTHER}/laptop`,
      connection: '',
      ip: '',
      port: 0,
      priority: 1,
      node: 'node1',
      uptime: 42,
      status: 'away',
      resource: 'laptop',
      statustext: '',
    });
    await sm.stop();
  });

  it.each([
    ['connected_users_vhost', { host: ' ' }, 'host'],
    ['num_resources', { user: 'alice', host: 'a b' }, 'host'],
    ['user_sessions_info', { user: 'a\u0000b', host: HOST }, 'user'],
    ['kick_session', { user: 'a@b', host: HOST, resource: '', reason: 'x' }, 'user'],
  ] as const)(
    '%s with a name that cannot be prepared (%j) is InvalidArgumentsError naming %s',
    async (name, args, field) => {
      const { sm } = await scene();
      const error = await sm.commands.execute(name, args, local).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentsError);
      expect((error as InvalidArgumentsError).issues.map((i) => i.path)).toEqual([field]);
      await sm.stop();
    },
  );

  it('connected_users_vhost, num_resources, resource_num', async () => {
    const { sm } = await scene();
    expect(await sm.commands.execute('connected_users_vhost', { host: OTHER }, local)).toEqual([
      `bob@${OTHER}/laptop`,
    ]);
    expect(await sm.commands.execute('num_resources', { user: 'alice', host: HOST }, local)).toBe(4);
    expect(await sm.commands.execute('num_resources', { user: 'nobody', host: HOST }, local)).toBe(0);
    const resources = await sm.getUserResources('alice', HOST);
    for (let num = 1; num <= 4; num++) {
      expect(await sm.commands.execute('resource_num', { user: 'alice', host: HOST, num }, local)).toBe(
        resources[num - 1],
      );
    }
    for (const num of [0, 5, -1]) {
      const error = await sm.commands
        .execute('resource_num', { user: 'alice', host: HOST, num }, local)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentsError);
      expect((error as InvalidArgumentsError).issues).toEqual([
        { path: 'num', message: `Wrong resource number: ${num}` },
      ]);
    }
    await sm.stop();
  });

  it('status_num, status_num_host, status_list and status_list_host (versions 0 and 3)', async () => {
    const { sm } = await scene();
    // Without a version a caller gets the newest (`get_command_definition/2`): 3 for the lists.
    const n = (name: string, args: Record<string, string>) => sm.commands.execute(name, args, local, 0);
    expect(await n('status_num', { status: 'dnd' })).toBe(1);
    expect(await n('status_num', { status: 'all' })).toBe(5);
    expect(await n('status_num', { status: 'offline' })).toBe(1);
    expect(await n('status_num_host', { host: OTHER, status: 'away' })).toBe(1);
    expect(await n('status_num_host', { host: HOST, status: 'away' })).toBe(0);
    // Version 0: user, host, resource, priority, status text (newlines shown as \n).
    expect(await n('status_list', { status: 'dnd' })).toEqual([
      { user: 'alice', host: HOST, resource: 'desk', priority: 5, status: 'Busy\\nmeeting' },
    ]);
    expect(await n('status_list_host', { host: OTHER, status: 'all' })).toEqual([
      { user: 'bob', host: OTHER, resource: 'laptop', priority: 1, status: '' },
    ]);
    // Version 3 (ejabberd 24.12): the full JID, priority, status text.
    const v3 = (name: string, args: Record<string, string>) => sm.commands.execute(name, args, local);
    expect(await v3('status_list', { status: 'dnd' })).toEqual([
      { jid: `alice@${HOST}/desk`, priority: 5, status: 'Busy\\nmeeting' },
    ]);
    expect(await v3('status_list_host', { host: HOST, status: 'unavailable' })).toEqual([
      { jid: `alice@${HOST}/phone`, priority: -1, status: '' },
    ]);
    await sm.stop();
  });

  it('get_presence: the first connected resource’s show and status; unavailable without a session', async () => {
    const { sm } = await scene();
    expect(await sm.commands.execute('get_presence', { user: 'bob', host: OTHER }, local)).toEqual({
      jid: `bob@${OTHER}/laptop`,
      show: 'away',
      status: '',
    });
    expect(await sm.commands.execute('get_presence', { user: 'Nobody', host: HOST }, local)).toEqual({
      jid: `Nobody@${HOST}`,
      show: 'unavailable',
      status: '',
    });
    await sm.stop();
  });

  it('set_presence (0: priority as a string, 1: as an integer) hands the presence to the connection', async () => {
    const { sm } = await startSm();
    const { state } = await open(sm, 'carol', 'r');
    const args = { user: 'carol', host: HOST, resource: 'r', type: 'available', show: 'away', status: 'BB' };
    expect(await sm.commands.execute('set_presence', { ...args, priority: '7' }, local, 0)).toBe('ok');
    const [call] = state.calls;
    expect(call?.type).toBe('set_presence');
    const sent = (call as { presence: Element }).presence;
    expect(sent.toString()).toBe(
      `<presence from="carol@${HOST}/r" to="carol@${HOST}"><show>away</show><status>BB</status><priority>7</priority></presence>`,
    );
    expect(
      await sm.commands.execute('set_presence', { ...args, type: 'unavailable', priority: 3 }, local),
    ).toBe('ok');
    expect((state.calls[1] as { presence: Element }).presence.attrs.type).toBe('unavailable');
    // Version 0 refuses a priority that is not an integer; no session: "User session not found".
    await expect(
      sm.commands.execute('set_presence', { ...args, priority: 'x' }, local, 0),
    ).rejects.toBeInstanceOf(InvalidArgumentsError);
    const missing = await sm.commands
      .execute('set_presence', { ...args, resource: 'gone', priority: 1 }, local)
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SessionNotFoundError);
    expect((missing as Error).message).toBe('User session not found');
    await sm.stop();
  });

  it('kick_session: {exit, Reason} to the session; an empty resource kicks every resource, as ejabberd', async () => {
    const { sm } = await startSm();
    const a = await open(sm, 'dave', 'a');
    const b = await open(sm, 'dave', 'b');
    const exit = (reason: string) => ({ type: 'exit', reason });
    await sm.commands.execute(
      'kick_session',
      { user: 'dave', host: HOST, resource: 'a', reason: 'Stuck connection' },
      local,
    );
    await sm.system.call(a.ref, 'sync').catch(() => undefined);
    expect(a.state.received).toEqual([exit('Stuck connection')]);
    expect(b.state.received).toEqual([]);
    await sm.commands.execute(
      'kick_session',
      { user: 'dave', host: HOST, resource: '', reason: 'All' },
      local,
    );
    await sm.system.call(b.ref, 'sync').catch(() => undefined);
    expect(a.state.received).toEqual([exit('Stuck connection'), exit('All')]);
    expect(b.state.received).toEqual([exit('All')]);
    await sm.stop();
  });

  // The policy of each command (ejabberd's `#ejabberd_commands{policy}`, `restricted` by default):
  // a `restricted` one only for local callers (ejabberdctl), `admin` for administrators too.
  const policies: [string, 'admin' | 'restricted'][] = [
    ['connected_users', 'admin'],
    ['connected_users_number', 'admin'],
    ['user_resources', 'admin'],
    ['kick_user', 'restricted'],
    ['kick_users', 'restricted'],
    ['kick_session', 'restricted'],
    ['user_sessions_info', 'restricted'],
    ['connected_users_info', 'restricted'],
    ['connected_users_vhost', 'restricted'],
    ['num_resources', 'restricted'],
    ['resource_num', 'restricted'],
    ['status_num', 'admin'],
    ['status_num_host', 'admin'],
    ['status_list', 'restricted'],
    ['status_list_host', 'restricted'],
    ['get_presence', 'restricted'],
    ['set_presence', 'restricted'],
  ];
  it.each(policies)('%s has policy %s', async (name, policy) => {
    const { sm } = await startSm();
    for (const info of sm.commands.list().filter((c) => c.name === name)) expect(info.policy).toBe(policy);
    if (policy === 'restricted') {
      await expect(sm.commands.execute(name, {}, admin)).rejects.toBeInstanceOf(AccessDeniedError);
    }
    await sm.stop();
  });
});
