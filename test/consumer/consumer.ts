// Typechecked by test/packages.test.ts in the scratch project, under moduleResolution node16 and
// bundler, against the .d.ts files of the installed tarballs (every @otp-chat one checked): the types a
// TypeScript project sees. The same scenario as consumer.mjs, typed.
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { testSystem } from '@otp-chat/actor/testing';
import { type AdminServerOptions, AdminTokens, type OpenApiDocument } from '@otp-chat/admin';
import { Cluster, type ClusterOptions, type NodeEvent } from '@otp-chat/cluster';
import { type HookHandler, type HookMap, Hooks } from '@otp-chat/event-bus';
import { type Jid, parseJid } from '@otp-chat/jid';
import { RedisBackend, type RedisBackendOptions } from '@otp-chat/redis-backend';
import { freePort } from '@otp-chat/redis-backend/testing';
import {
  type ConnectionMessage,
  type Element,
  MemoryBackend,
  SessionManager,
  type Sid,
  xml,
} from '@otp-chat/session-manager';
import { SqlBackend, type SqlBackendOptions } from '@otp-chat/sql-backend';
import { uniqueSchema } from '@otp-chat/sql-backend/testing';
import { Application, Supervisor } from '@otp-chat/supervisor';
import { XmppServer, type XmppServerOptions } from '@otp-chat/xmpp';
// Types only: at run time this entry needs the optional peer @xmpp/client.
import type { ConnectClientOptions, TestClient } from '@otp-chat/xmpp/testing';

const HOST = 'example.com';
const system: ActorSystem = new ActorSystem({ node: 'consumer@local', logger: silentLogger });
const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: new MemoryBackend() } });
const app = await Application.start(
  { strategy: 'one_for_one', children: [sm.childSpec()] },
  { system, handleSignals: false },
);

// The session manager's hooks are typed through its augmentation of event-bus's HookMap.
const onOpen: HookHandler<HookMap, 'sm_register_connection_hook'> = (sid: Sid, jid: Jid) => {
  void sid;
  void jid.toString();
};
sm.hooks.add('sm_register_connection_hook', HOST, onOpen, 50);
// @ts-expect-error: not a hook of the map
sm.hooks.add('no_such_hook', HOST, () => {}, 50);

async function connect(
  user: string,
  resource: string,
  onRoute: (stanza: Element) => void,
): Promise<{ ref: ActorRef; sid: Sid }> {
  const connection: GenServer<null, void, never, never, never, ConnectionMessage> = {
    init: () => ({ ok: null }),
    handleInfo: (msg, state) => {
      if (msg.type === 'route') onRoute(msg.stanza as Element);
      return { noreply: true, state };
    },
  };
  const ref = await system.spawn(connection, undefined);
  const sid = sm.makeSid(ref);
  await sm.openSession(sid, user, HOST, resource, undefined, { conn: 'consumer' });
  return { ref, sid };
}

const received = new Promise<Element>((resolve) => {
  void connect('bob', 'phone', resolve);
});
await connect('alice', 'laptop', () => {});
await sm.route(
  xml(
    'message',
    { from: `alice@${HOST}/laptop`, to: `bob@${HOST}/phone`, type: 'chat' },
    xml('body', {}, 'hi'),
  ),
);
const body: string | null = (await received).getChildText('body');
const children: string[] = (await Supervisor.whichChildren(system, app.root)).map((c) => String(c.id));
await app.stop();

const redisOptions: Partial<RedisBackendOptions> = {};
const sqlOptions: SqlBackendOptions = {
  url: 'postgres://chat@127.0.0.1:5432/chat',
  schema: uniqueSchema('consumer'),
};
const clusterOptions: Partial<ClusterOptions> = { heartbeatIntervalMs: 2000 };
const joinCluster: (o: ClusterOptions) => Promise<Cluster> = Cluster.start;
const onNode = (e: NodeEvent): string => e.node;
const serverOptions: Partial<XmppServerOptions> = {};
const adminOptions: Partial<AdminServerOptions> = { tokens: new AdminTokens(), port: 0 };
const apiPaths = (doc: OpenApiDocument): string[] => Object.keys(doc.paths);
const port: Promise<number> = freePort();
const clientOptions: ConnectClientOptions = { port: 5222, username: 'alice', password: 'alice' };
const stanzasOf = (c: TestClient): readonly Element[] => c.stanzas;

export {
  adminOptions,
  apiPaths,
  body,
  children,
  clientOptions,
  clusterOptions,
  Hooks,
  joinCluster,
  onNode,
  parseJid,
  port,
  RedisBackend,
  redisOptions,
  SqlBackend,
  serverOptions,
  sqlOptions,
  stanzasOf,
  testSystem,
  XmppServer,
};
