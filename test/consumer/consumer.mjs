// Run by test/packages.test.ts with plain `node` in a scratch project that installed the packed
// tarballs with npm: the packages as a Node project outside this workspace sees them.
// An Application whose root supervisor starts a SessionManager on the memory backend; two
// connection actors open sessions; a message routed by the session manager reaches the other one.
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { testSystem } from '@otp-chat/actor/testing';
import { AdminServer } from '@otp-chat/admin';
import { Cluster } from '@otp-chat/cluster';
import { Hooks } from '@otp-chat/event-bus';
import { parseJid } from '@otp-chat/jid';
import { RedisBackend } from '@otp-chat/redis-backend';
import { freePort } from '@otp-chat/redis-backend/testing';
import { MemoryBackend, SessionManager, xml } from '@otp-chat/session-manager';
import { SqlBackend } from '@otp-chat/sql-backend';
import { uniqueSchema } from '@otp-chat/sql-backend/testing';
import { Application, Supervisor } from '@otp-chat/supervisor';
import { XmppServer } from '@otp-chat/xmpp';

const HOST = 'example.com';
const system = new ActorSystem({ node: 'consumer@local', logger: silentLogger });
const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: new MemoryBackend() } });
const app = await Application.start(
  { strategy: 'one_for_one', children: [sm.childSpec()] },
  { system, handleSignals: false },
);

/** A connection actor: hands every routed stanza to `onRoute`. */
async function connect(user, resource, onRoute) {
  const ref = await system.spawn(
    {
      init: () => ({ ok: null }),
      handleInfo: (msg, state) => {
        if (msg.type === 'route') onRoute(msg.stanza);
        return { noreply: true, state };
      },
    },
    undefined,
  );
  const sid = sm.makeSid(ref);
  await sm.openSession(sid, user, HOST, resource, undefined, { conn: 'consumer' });
  return { ref, sid };
}

let deliver;
const received = new Promise((resolve) => {
  deliver = resolve;
});
await connect('bob', 'phone', deliver);
await connect('alice', 'laptop', () => {});
await sm.route(
  xml(
    'message',
    { from: `alice@${HOST}/laptop`, to: `bob@${HOST}/phone`, type: 'chat' },
    xml('body', {}, 'hi bob'),
  ),
);
const stanza = await received;
const children = (await Supervisor.whichChildren(system, app.root)).map((c) => c.id);
const users = await sm.connectedUsers();
await app.stop();

console.log(
  JSON.stringify({
    children,
    users: [...users].sort(),
    body: stanza.getChildText('body'),
    from: stanza.attrs.from,
    to: parseJid(stanza.attrs.to).toString(),
    alive: system.isAlive(app.root),
    loaded: [
      typeof testSystem,
      typeof Hooks,
      typeof RedisBackend,
      typeof freePort,
      typeof SqlBackend,
      typeof uniqueSchema,
      typeof XmppServer,
      typeof Cluster.start,
      typeof AdminServer.start,
    ],
    resolved: import.meta.resolve('@otp-chat/session-manager'),
  }),
);
