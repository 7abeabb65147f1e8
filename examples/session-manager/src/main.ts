// A walkthrough of @otp-chat/session-manager: the session manager runs as a worker of the
// application's root supervisor (as ejabberd_sm under ejabberd_sup), simulated connections open
// sessions, messages are routed by priority, a session is replaced, and an administrator kicks a
// user by command.
// Run: pnpm --filter @otp-chat/example-session-manager start
import { type ActorRef, ActorSystem, silentLogger } from '@otp-chat/actor';
import {
  type ConnectionMessage,
  type Element,
  SessionManager,
  type Sid,
  xml,
} from '@otp-chat/session-manager';
import { Application, Supervisor } from '@otp-chat/supervisor';

const HOST = 'example.com';

/** What the walkthrough prints; returned so that the example's test can check it. */
export async function walkthrough(
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<string[]> {
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    print(line);
  };
  const system = new ActorSystem({ node: 'chat@local', logger: silentLogger });
  const sm = new SessionManager({
    system,
    hosts: [HOST],
    router: (s) => say(`router <- ${s.toString()}`),
  });
  // The root supervisor starts the session manager, whose init starts its backend supervisor
  // (one actor per backend: here the default memory backend).
  const app = await Application.start({ strategy: 'one_for_one', children: [sm.childSpec()] }, { system });
  const [smChild] = await Supervisor.whichChildren(system, app.root);
  const backends = await Supervisor.whichChildren(system, sm.backendSupervisor!);
  say(
    `0. application started: root -> ${smChild?.id} -> backend supervisor -> ${backends.map((b) => b.id).join(', ')}`,
  );

  /** A simulated client connection: an actor that prints what it receives and closes on control messages. */
  async function connectClient(
    user: string,
    resource: string,
    priority?: number,
  ): Promise<{ ref: ActorRef; sid: Sid }> {
    const conn: { ref: ActorRef; sid: Sid } = { ref: undefined as never, sid: undefined as never };
    conn.ref = await system.spawn<null, void, 'sync', string, never, ConnectionMessage>(
      {
        init: () => ({ ok: null }),
        handleCall: (_r, _f, state) => ({ reply: 'ok', state }),
        handleInfo: (msg, state) => {
          const who = `${user}/${resource}`;
          if (msg.type === 'route') {
            const body = (msg.stanza as Element).getChildText('body');
            say(`  ${who} got "${body}"${msg.smCopy ? ' (sm_copy)' : ''}`);
            return { noreply: true, state };
          }
          say(`  ${who} got ${msg.type}: closing`);
          return { stop: 'normal', state };
        },
        terminate: () => sm.closeSession(conn.sid, user, HOST, resource),
      },
      undefined,
    );
    conn.sid = sm.makeSid(conn.ref);
    await sm.openSession(conn.sid, user, HOST, resource, undefined, { conn: 'simulated' });
    if (priority !== undefined) {
      await sm.setPresence(
        conn.sid,
        user,
        HOST,
        resource,
        priority,
        xml('presence', {}, xml('priority', {}, String(priority))),
      );
    }
    return conn;
  }
  const sync = async (...conns: { ref: ActorRef }[]) => {
    for (const c of conns) if (system.isAlive(c.ref)) await system.call(c.ref, 'sync');
  };
  const message = (to: string, body: string) =>
    xml('message', { to, from: 'bob@example.com/laptop', type: 'chat', id: body }, xml('body', {}, body));

  say('1. alice opens three sessions: phone (priority 5), desktop (priority 5), tablet (priority 1)');
  const phone = await connectClient('alice', 'phone', 5);
  const desktop = await connectClient('alice', 'desktop', 5);
  const tablet = await connectClient('alice', 'tablet', 1);
  say(`   connected_users: ${(await sm.connectedUsers()).join(', ')}`);

  say('2. bob -> alice@example.com (bare JID): highest priority wins, ties to all, sm_copy on all but one');
  await sm.route(message('alice@example.com', 'hello alice'));
  await sync(phone, desktop, tablet);

  say('3. bob -> alice@example.com/tablet (full JID): that session only, whatever its priority');
  await sm.route(message('alice@example.com/tablet', 'hello tablet'));
  await sync(tablet);

  say('4. a new connection binds alice/phone again: the old one is replaced');
  const phone2 = await connectClient('alice', 'phone', 5);
  say(`   resources now: ${(await sm.userResources('alice', HOST)).join(', ')}`);

  say('5. an administrator runs kick_user alice@example.com');
  const kicked = await sm.commands.execute('kick_user', { user: 'alice', host: HOST }, { kind: 'local' }, 0);
  await sync(phone2, desktop, tablet);
  for (let i = 0; i < 5 && (await sm.connectedUsersNumber()) > 0; i++)
    await new Promise((r) => setImmediate(r));
  say(`   kicked ${String(kicked)} sessions; connected_users_number = ${await sm.connectedUsersNumber()}`);

  say('6. bob -> alice@example.com while she is offline: bounced with service-unavailable');
  await sm.route(message('alice@example.com', 'are you there?'));

  await app.stop(); // reverse order: the session manager's terminate, then its backend supervisor
  say('7. application stopped');
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) await walkthrough();
