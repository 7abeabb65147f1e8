// bench/xmpp's otp-chat server, in its own process (forked by main.ts with --expose-gc): N users,
// the default modules, answering main.ts's memory, cpu and stop requests over IPC. With a second
// argument `presence` (bench/xmpp/presence.ts): the roster and presence modules too, and rosters of
// CONTACTS contacts per user, subscribed both ways, in the module store.
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import {
  MemoryModuleStore,
  MemoryUserStore,
  modOffline,
  modPing,
  modPresence,
  modRoster,
  selfSignedCertificate,
  XmppServer,
} from '@otp-chat/xmpp';
import { contactsOf, DOMAIN, PASSWORD, PASSWORD_FORMAT, TRANSPORT, user } from './shared.ts';

const system = new ActorSystem({ logger: silentLogger });
const users = new MemoryUserStore({ passwordFormat: PASSWORD_FORMAT });
const n = Number(process.argv[2]);
for (let i = 0; i < n; i++) users.register(user(i), DOMAIN, PASSWORD);
// STARTTLS with a self-signed certificate, as ejabberd gets one; WebSocket next to TCP for `ws`.
const tls = TRANSPORT === 'starttls' ? await selfSignedCertificate(DOMAIN) : undefined;
const presence = process.argv[3] === 'presence';
const store = new MemoryModuleStore();
if (presence) {
  for (let i = 0; i < n; i++) {
    for (const c of contactsOf(i, n)) {
      const jid = `${user(c)}@${DOMAIN}`;
      store.set(
        'roster',
        `${user(i)}@${DOMAIN}`,
        jid,
        JSON.stringify({ jid, groups: [], subscription: 'both', ask: 'none' }),
      );
    }
  }
}
const server = await XmppServer.start({
  ...(tls === undefined ? {} : { tls }),
  ...(TRANSPORT === 'ws' ? { websocketPort: 0 } : {}),
  // The driver logs in with PLAIN, which ejabberd offers in the clear too.
  allowPlainWithoutTls: true,
  system,
  hosts: [DOMAIN],
  port: 0,
  users,
  logger: silentLogger,
  store,
  modules: presence ? [modPing(), modOffline(), modRoster(), modPresence()] : [modPing(), modOffline()],
});
const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'memory') {
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    const c = process.cpuUsage();
    process.send?.({
      type: 'memory',
      vm: m.heapUsed + m.external,
      rss: m.rss,
      cpu: (c.user + c.system) / 1e6,
    });
  } else if (msg.type === 'cpu') {
    const c = process.cpuUsage();
    process.send?.({ type: 'cpu', cpu: (c.user + c.system) / 1e6 });
  } else if (msg.type === 'stop') {
    void server.stop().then(() => process.exit(0));
  }
});
process.send?.({
  type: 'ready',
  port: server.address.port,
  wsPort: server.addresses.websocket?.port,
  cert: tls?.cert,
});
