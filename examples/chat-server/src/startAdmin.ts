import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ActorSystem, Logger } from '@otp-chat/actor';
import {
  DEFAULTS as ADMIN,
  type AdminMetrics,
  AdminServer,
  AdminTokens,
  defaultTokenFile,
  nodeCommands,
  Observer,
  type ReadinessCheck,
  SupervisionWatch,
} from '@otp-chat/admin';
import type { Cluster } from '@otp-chat/cluster';
import type { XmppServer } from '@otp-chat/xmpp';
import type { ChatServerConfig } from './config.ts';

/** The admin surface of a running chat server. */
export interface ChatAdmin {
  readonly server: AdminServer;
  /** The base URL (`http://127.0.0.1:5281`). */
  readonly url: string;
  /** The `local` token (every command). */
  readonly token: string;
  /** Where a generated token was written for `otp-chat-ctl`, if it was generated. */
  readonly tokenFile: string | undefined;
  /** `/readyz` answers 503 from now on; `status` says `stopping`. */
  drain(): void;
  stop(): Promise<void>;
}

/** What {@link startAdmin} wires together. */
export interface AdminParts {
  readonly config: ChatServerConfig & { readonly adminPort: number };
  readonly system: ActorSystem;
  readonly xmpp: XmppServer;
  readonly cluster: Cluster | undefined;
  readonly metrics: AdminMetrics;
  readonly readiness: readonly ReadinessCheck[];
  readonly logger: Logger;
  /** `$OTP_CHAT_ADMIN_TOKEN` (read by the caller, so that tests can pass their own). */
  readonly envToken: string | undefined;
}

/**
 * Turns on `@otp-chat/admin` for the chat server: the `status` and `nodes` commands, metrics of
 * every host (hosts added by a reload too), the supervision tree of the session manager and the
 * connections, the observer, and the listener (loopback unless `adminHost` says otherwise). The
 * token is `adminToken`, else `$OTP_CHAT_ADMIN_TOKEN`, else generated and written (mode 0600) to
 * {@link defaultTokenFile}, removed again at stop.
 */
export async function startAdmin(parts: AdminParts): Promise<ChatAdmin> {
  const { config, system, xmpp, cluster, metrics, logger } = parts;
  const started = Date.now();
  let state: 'started' | 'stopping' = 'started';
  const nodes = () => cluster?.nodes() ?? system.nodes();
  const commands = nodeCommands({
    system,
    nodes,
    state: () => state,
    uptimeSeconds: () => (Date.now() - started) / 1000,
    sessions: () => xmpp.sm.connectedUsersNumber(),
  });
  xmpp.commands.register(commands, { definer: 'admin' });
  const supervision = new SupervisionWatch(system, [
    { label: 'session_manager', ref: () => xmpp.sm.supervisor },
    { label: 'c2s_connections', ref: () => xmpp.connectionSupervisor },
  ]);
  metrics.observeEvents(xmpp.sm.events);
  metrics.observeSupervision(supervision);
  for (const host of xmpp.hosts) metrics.observeHost(host);
  const hostUp = (host: string) => metrics.observeHost(host);
  xmpp.hooks.add('host_up', 'global', hostUp, 90);
  await supervision.tree(); // subscribes to every supervisor, so that restarts are counted from now
  const observer = new Observer({ system, sm: xmpp.sm, hooks: xmpp.hooks, supervision, nodes });
  const given = config.adminToken ?? parts.envToken;
  const token = given ?? AdminTokens.generate();
  const tokens = new AdminTokens().add(token, { kind: 'local' });
  let server: AdminServer;
  try {
    server = await AdminServer.start({
      commands: xmpp.commands,
      tokens,
      host: config.adminHost ?? ADMIN.host,
      port: config.adminPort,
      metrics,
      observer,
      readiness: parts.readiness,
      logger,
    });
  } catch (error) {
    for (const c of commands) xmpp.commands.unregister(c.name);
    xmpp.hooks.delete('host_up', 'global', hostUp, 90);
    await supervision.stop();
    throw error;
  }
  let tokenFile: string | undefined;
  if (given === undefined) {
    tokenFile = defaultTokenFile(server.address.port);
    try {
      mkdirSync(dirname(tokenFile), { recursive: true, mode: 0o700 });
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      chmodSync(tokenFile, 0o600);
    } catch (error) {
      logger.warn({ err: error, tokenFile }, 'chat-server: cannot write the admin token file');
      tokenFile = undefined;
    }
  }
  return {
    server,
    url: server.url,
    token,
    tokenFile,
    drain() {
      state = 'stopping';
      server.drain();
    },
    async stop() {
      state = 'stopping';
      await server.stop();
      metrics.stop();
      await supervision.stop();
      xmpp.hooks.delete('host_up', 'global', hostUp, 90);
      if (tokenFile !== undefined) rmSync(tokenFile, { force: true });
    },
  };
}
