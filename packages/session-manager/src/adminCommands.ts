import type { ActorRef } from '@otp-chat/actor';
import { type AnyCommandSpec, defineCommand, InvalidArgumentsError } from '@otp-chat/event-bus';
import { jid, nameprep, nodeprep, parseJid } from '@otp-chat/jid';
import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import { callGetPresence, callSetPresence } from './ConnectionCall.ts';
import { SessionNotFoundError } from './errors.ts';
import { sessionIp } from './Session.ts';
import type { SessionManager, UserSessionInfo } from './SessionManager.ts';

/** One entry of `user_sessions_info` (mod_admin_extra's tuple, field by field, in its order). */
export interface UserSessionInfoEntry {
  /** `conn` of the session info: `c2s`, `c2s_tls`, `websocket`… (`''` when the connection set none). */
  readonly connection: string;
  /** The client's address (`''` when the connection set none). */
  readonly ip: string;
  /** The client's port (0 when the connection set none). */
  readonly port: number;
  /** The session's priority, -1 when it has none (`num_prio/1`). */
  readonly priority: number;
  readonly node: string;
  /** Seconds since the session opened. */
  readonly uptime: number;
  /** `available`, `away`, `chat`, `dnd`, `xa`, `unavailable`, or `offline` when its connection does not answer. */
  readonly status: string;
  readonly resource: string;
  /** The status text of its presence (`''` for none). */
  readonly statustext: string;
}

/** One entry of `connected_users_info`: the full JID, then a {@link UserSessionInfoEntry}. */
export interface ConnectedUserInfoEntry extends UserSessionInfoEntry {
  readonly jid: string;
}

/** What mod_admin_extra's `get_presence/1` (of a pid) extracts from the connection's presence. */
interface PresenceOf {
  readonly user: string;
  readonly resource: string;
  readonly show: string;
  readonly status: string;
}

const OFFLINE: PresenceOf = Object.freeze({ user: '', resource: '', show: 'offline', status: '' });

/** `num_prio/1`: an integer priority as is, none as -1. */
function numPrio(priority: number | undefined): number {
  return priority === undefined ? -1 : priority;
}

/**
 * mod_admin_extra's `get_presence/1`: the show and status of the session whose connection is
 * `ref` (`ejabberd_c2s:get_presence/1`), `offline` when the connection does not answer.
 */
async function presenceOf(sm: SessionManager, ref: ActorRef): Promise<PresenceOf> {
  let presence: Element;
  try {
    presence = await callGetPresence(sm.system, ref);
  } catch {
    return OFFLINE;
  }
  let user = '';
  let resource = '';
  try {
    const from = parseJid(String(presence.attrs.from ?? ''));
    user = from.local;
    resource = from.resource;
  } catch {
    // no from: user and resource stay empty
  }
  const show =
    presence.attrs.type === 'unavailable'
      ? 'unavailable'
      : (presence.getChildText('show') ?? '') === ''
        ? 'available'
        : presence.getChildText('show')!;
  return { user, resource, show, status: presence.getChildText('status') ?? '' };
}

/** mod_admin_extra's `user_session_info/3`, from `get_user_info/3`'s answer. */
async function userSessionInfo(
  sm: SessionManager,
  resource: string,
  info: UserSessionInfo,
  nowS: number,
): Promise<UserSessionInfoEntry> {
  const p = await presenceOf(sm, info.ref);
  const [ip, port] = sessionIp(info.info) ?? ['', 0];
  const conn = info.info.conn;
  return {
    connection: typeof conn === 'string' ? conn : '',
    ip,
    port,
    priority: numPrio(info.priority),
    node: info.node,
    uptime: Math.max(0, nowS - info.ts),
    status: p.show,
    resource,
    statustext: p.status,
  };
}

/** `stringize/1`: newlines shown as `\n` (status texts printed one a line). */
function stringize(text: string): string {
  return text.replace(/\n/g, '\\n');
}

/** One row of `get_status_list/2`. */
interface StatusRow {
  readonly user: string;
  readonly host: string;
  readonly resource: string;
  readonly priority: number;
  readonly status: string;
}

/**
 * mod_admin_extra's `get_status_list/2`: this node's sessions (`dirty_get_my_sessions_list/0`) of
 * `host` (or every host for `all`), with their connection's presence, whose show is `status` (or
 * any for `all`).
 */
async function statusList(sm: SessionManager, host: string, status: string): Promise<StatusRow[]> {
  const mine = await sm.dirtyGetMySessionsList();
  const rows: StatusRow[] = [];
  for (const s of mine) {
    if (host !== 'all' && s.lserver !== host) continue;
    const p = await presenceOf(sm, s.sid.ref);
    if (status !== 'all' && p.show !== status) continue;
    rows.push({
      user: p.user,
      host: s.lserver,
      resource: p.resource,
      priority: numPrio(s.priority),
      status: stringize(p.status),
    });
  }
  return rows;
}

/** Whether `prep` accepts `value` (a name that cannot be prepared is a bad argument, not a crash). */
function prepares(prep: (value: string) => string): (value: string) => boolean {
  return (value) => {
    try {
      prep(value);
      return true;
    } catch {
      return false;
    }
  };
}
// ejabberd's commands take any binary and its jid:nodeprep/nameprep give `error` deep inside;
// here a name that cannot be prepared is refused up front, naming the argument.
const user = z.string().min(1).refine(prepares(nodeprep), 'not a valid user name (nodeprep)');
const host = z.string().min(1).refine(prepares(nameprep), 'not a valid host name (nameprep)');
const sessionInfoShape = {
  connection: z.string(),
  ip: z.string(),
  port: z.number().int(),
  priority: z.number().int(),
  node: z.string(),
  uptime: z.number().int(),
  status: z.string(),
  resource: z.string(),
  statustext: z.string(),
} as const;
const statusRowV0 = z.object({
  user: z.string(),
  host: z.string(),
  resource: z.string(),
  priority: z.number().int(),
  status: z.string(),
});
const statusRowV3 = z.object({ jid: z.string(), priority: z.number().int(), status: z.string() });

function v3(rows: readonly StatusRow[]): z.input<typeof statusRowV3>[] {
  return rows.map((r) => ({
    jid: jid(r.user, r.host, r.resource).toString(),
    priority: r.priority,
    status: r.status,
  }));
}

/**
 * The session commands of ejabberd's `mod_admin_extra`, with its names, arguments, result fields
 * and policies (`restricted` unless it says `admin`), running through the session manager's API
 * and calls to the connections (`ejabberd_c2s:get_presence/1`, `set_presence/2`), never the store
 * (processone/ejabberd#977): `kick_session`, `user_sessions_info`, `connected_users_info`,
 * `connected_users_vhost`, `num_resources`, `resource_num`, `status_num`, `status_num_host`,
 * `status_list` and `status_list_host` (versions 0 and 3), `get_presence`, `set_presence`
 * (versions 0 and 1).
 */
export function adminExtraCommands(sm: SessionManager): AnyCommandSpec[] {
  const wallSeconds = () => Math.floor(sm.wallClock() / 1000);
  return [
    defineCommand({
      name: 'kick_session',
      tags: ['session'],
      description: 'Kick a user session',
      args: z.object({ user, host, resource: z.string(), reason: z.string() }),
      result: z.literal('ok'),
      handler: async ({ user, host, resource, reason }) => {
        // `route/2` to the full JID, or to every resource of the bare JID when `resource` is empty.
        await sm.kickSession(user, host, resource, reason);
        return 'ok' as const;
      },
    }),
    defineCommand({
      name: 'user_sessions_info',
      tags: ['session'],
      description: 'Get information about all sessions of a user',
      args: z.object({ user, host }),
      result: z.array(z.object(sessionInfoShape)),
      handler: async ({ user, host }) => {
        const now = wallSeconds();
        const out: UserSessionInfoEntry[] = [];
        for (const resource of await sm.getUserResources(user, host)) {
          const info = await sm.getUserInfo(user, host, resource);
          if (info !== 'offline') out.push(await userSessionInfo(sm, resource, info, now));
        }
        return out;
      },
    }),
    defineCommand({
      name: 'connected_users_info',
      tags: ['session'],
      description: 'List all established sessions and their information',
      args: z.object({}),
      result: z.array(z.object({ jid: z.string(), ...sessionInfoShape })),
      handler: async () => {
        const now = wallSeconds();
        const out: ConnectedUserInfoEntry[] = [];
        for (const [u, s, r] of await sm.dirtyGetSessionsList()) {
          const info = await sm.getUserInfo(u, s, r);
          if (info === 'offline') continue;
          out.push({ jid: jid(u, s, r).toString(), ...(await userSessionInfo(sm, r, info, now)) });
        }
        return out;
      },
    }),
    defineCommand({
      name: 'connected_users_vhost',
      tags: ['session'],
      description: 'Get the list of established sessions in a vhost',
      args: z.object({ host }),
      result: z.array(z.string()),
      handler: async ({ host }) =>
        (await sm.getVhSessionList(host)).map(([u, s, r]) => jid(u, s, r).toString()),
    }),
    defineCommand({
      name: 'num_resources',
      tags: ['session'],
      description: 'Get the number of resources of a user',
      args: z.object({ user, host }),
      result: z.number().int(),
      handler: async ({ user, host }) => (await sm.getUserResources(user, host)).length,
    }),
    defineCommand({
      name: 'resource_num',
      tags: ['session'],
      description: 'Resource string of a session number',
      args: z.object({ user, host, num: z.number().int() }),
      result: z.string(),
      handler: async ({ user, host, num }) => {
        const resources = await sm.getUserResources(user, host);
        if (num > 0 && num <= resources.length) return resources[num - 1]!;
        throw new InvalidArgumentsError('resource_num', [
          { path: 'num', message: `Wrong resource number: ${num}` },
        ]);
      },
    }),
    defineCommand({
      name: 'status_num_host',
      tags: ['session', 'statistics'],
      description: 'Number of logged users with this status in host',
      policy: 'admin',
      args: z.object({ host, status: z.string() }),
      result: z.number().int(),
      handler: async ({ host, status }) => (await statusList(sm, host, status)).length,
    }),
    defineCommand({
      name: 'status_num',
      tags: ['session', 'statistics'],
      description: 'Number of logged users with this status',
      policy: 'admin',
      args: z.object({ status: z.string() }),
      result: z.number().int(),
      handler: async ({ status }) => (await statusList(sm, 'all', status)).length,
    }),
    defineCommand({
      name: 'status_list_host',
      tags: ['session'],
      description: 'List of users logged in host with their statuses',
      args: z.object({ host, status: z.string() }),
      result: z.array(statusRowV0),
      handler: ({ host, status }) => statusList(sm, host, status),
    }),
    defineCommand({
      name: 'status_list_host',
      version: 3,
      tags: ['session'],
      description: 'List of users logged in host with their statuses',
      note: 'updated in 24.12',
      args: z.object({ host, status: z.string() }),
      result: z.array(statusRowV3),
      handler: async ({ host, status }) => v3(await statusList(sm, host, status)),
    }),
    defineCommand({
      name: 'status_list',
      tags: ['session'],
      description: 'List of logged users with this status',
      args: z.object({ status: z.string() }),
      result: z.array(statusRowV0),
      handler: ({ status }) => statusList(sm, 'all', status),
    }),
    defineCommand({
      name: 'status_list',
      version: 3,
      tags: ['session'],
      description: 'List of logged users with this status',
      note: 'updated in 24.12',
      args: z.object({ status: z.string() }),
      result: z.array(statusRowV3),
      handler: async ({ status }) => v3(await statusList(sm, 'all', status)),
    }),
    defineCommand({
      name: 'get_presence',
      tags: ['session'],
      description:
        'Retrieve the resource with highest priority, and its presence (show and status message) for a given user.',
      args: z.object({ user, host }),
      result: z.object({ jid: z.string(), show: z.string(), status: z.string() }),
      handler: async ({ user, host }) => {
        for (const resource of await sm.getUserResources(user, host)) {
          const ref = await sm.getSessionRef(user, host, resource);
          if (ref === undefined) continue;
          const p = await presenceOf(sm, ref);
          return { jid: jid(user, host, p.resource).toString(), show: p.show, status: p.status };
        }
        return { jid: jid(user, host).toString(), show: 'unavailable', status: '' };
      },
    }),
    ...[0, 1].map((version) =>
      defineCommand({
        name: 'set_presence',
        ...(version === 0 ? {} : { version, note: 'updated in 24.02' }),
        tags: ['session'],
        description: 'Set presence of a session',
        args: z.object({
          user,
          host,
          resource: z.string().min(1),
          type: z.string(),
          show: z.string(),
          status: z.string(),
          // Version 0 takes the priority as a string (`binary_to_integer/1`), version 1 as an integer.
          priority:
            version === 0
              ? z
                  .string()
                  .regex(/^[+-]?\d+$/, 'an integer')
                  .transform(Number)
              : z.number().int(),
        }),
        result: z.literal('ok'),
        handler: async ({ user, host, resource, type, show, status, priority }) => {
          const ref = await sm.getSessionRef(user, host, resource);
          if (ref === undefined) throw new SessionNotFoundError(user, host, resource);
          const from = jid(user, host, resource);
          const presence = xml(
            'presence',
            {
              from: from.toString(),
              to: from.bare().toString(),
              ...(type === '' || type === 'available' ? {} : { type }),
            },
            ...(show === '' ? [] : [xml('show', {}, show)]),
            ...(status === '' ? [] : [xml('status', {}, status)]),
            xml('priority', {}, String(priority)),
          );
          await callSetPresence(sm.system, ref, presence);
          return 'ok' as const;
        },
      }),
    ),
  ];
}
