// The otp-chat XMPP server: `pnpm start` (memory backend, two demo users, 127.0.0.1:5222).
// Ctrl-C ends every stream with <system-shutdown/>, closes the sessions and exits.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ClusterError } from '@otp-chat/cluster';
import { DEFAULTS } from '@otp-chat/xmpp';
import { ConfigError, clusterUrlOf, DEFAULT_CONFIG, parseConfig, USAGE, workersOf } from './config.ts';
import { startChatServer } from './startChatServer.ts';
import { superviseWorkers, WORKER_NODE_ENV } from './workers.ts';

/** `pnpm start`'s admin port when none is given (ejabberd's usual admin HTTP port). */
const ADMIN_PORT = 5281;

// Quiet by default (connection start/stop is logged at info); OTP_CHAT_LOG_LEVEL=info to see it.
// The default logger is created lazily, on first use, so this applies.
process.env.OTP_CHAT_LOG_LEVEL ??= 'warn';

const argv = process.argv.slice(2);
let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(argv);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  throw error;
}
if (config === 'help') {
  console.log(USAGE);
  process.exit(0);
}
// --workers N (N > 1): this process is the primary, and supervises N workers running this file.
if (cluster.isPrimary && workersOf(config, availableParallelism()) > 1) {
  process.exit(await superviseWorkers(config, workersOf(config, availableParallelism())));
}
// A worker: its slot's node name; the primary relays Ctrl-C (sent to the whole process group).
if (cluster.isWorker) config = { ...config, node: process.env[WORKER_NODE_ENV] ?? config.node };

let server: Awaited<ReturnType<typeof startChatServer>>;
try {
  // The admin listener is on by default (5281); when that port is taken, the server runs without it.
  server = await startChatServer(
    { ...config, adminPort: config.adminPort ?? ADMIN_PORT },
    { adminOptional: config.adminPort === undefined },
  );
} catch (error) {
  // The usual first-run problems get a sentence, not a stack trace.
  if (error instanceof ClusterError) {
    // NodeNameTakenError names the node; ClusterUnavailableError says Redis cannot be reached.
    console.error(error.message);
    process.exit(1);
  }
  const code = (error as { code?: string }).code;
  const name = (error as { name?: string }).name;
  if (name === 'BackendUnavailableError' || name === 'BackendInitError') {
    const cause = (error as { cause?: unknown }).cause;
    console.error(
      `cannot start the ${config.backend} session store: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}; check --${config.backend}-url`,
    );
    process.exit(1);
  }
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    // Node's listen error names the port: the XMPP listener's, or the admin listener's.
    const port = (error as { port?: number }).port;
    const admin = port !== undefined && port === config.adminPort && port !== config.port;
    console.error(
      admin
        ? `cannot listen for the admin API on ${config.adminHost ?? '127.0.0.1'}:${port} (${code}): another server may be using it; choose another port with --admin-port <n> (or off)`
        : `cannot listen on ${config.host}:${config.port} (${code}): another server may be using it; choose another port with --port <n>`,
    );
    process.exit(1);
  }
  throw error;
}
const { host, port } = server.address;
const max = Number.isFinite(config.maxUserSessions) ? config.maxUserSessions : 'unlimited';
const demo = JSON.stringify(config.users) === JSON.stringify(DEFAULT_CONFIG.users);
// Passwords are never printed: a banner ends up in logs, terminals and screenshots.
console.log(
  `otp-chat XMPP server listening on ${host}:${port} (domain ${config.domain}` +
    (config.vhosts.length === 0 ? ')' : `; virtual hosts ${config.vhosts.join(', ')})`),
);
console.log(`  node: ${server.system.node}`);
if (server.cluster !== undefined) {
  const others = server.cluster.nodes();
  console.log(
    `  cluster: ${clusterUrlOf(config)}; other nodes: ${others.length === 0 ? 'none yet' : others.join(', ')}`,
  );
  // This node lost its name (declared down while cut off from Redis, or taken): its sessions are
  // gone from the store, so it stops; a supervisor (systemd, Kubernetes) starts it again.
  server.cluster.onFatal((error) => {
    console.error(`${error.message}; exiting`);
    process.exit(1);
  });
  server.cluster.monitorNodes((e) =>
    console.log(e.type === 'nodeup' ? `node ${e.node} joined` : `node ${e.node} left (${e.reason})`),
  );
}
console.log(`  session backend: ${config.backend}, max sessions per user: ${max}`);
console.log(
  `  users: ${config.users.map((u) => `${u.user}@${config.domain}`).join(', ')}` +
    (demo ? ' (the demo accounts: their passwords are in examples/chat-server/README.md)' : ''),
);
// What listens where, and how a client trusts the certificate.
const a = server.addresses;
const starttls =
  server.certificate === undefined
    ? 'no TLS'
    : config.starttlsRequired
      ? 'STARTTLS required'
      : 'STARTTLS offered';
console.log(`  xmpp://${a.tcp.host}:${a.tcp.port}  TCP, ${starttls} (RFC 6120)`);
if (a.directTls !== undefined)
  console.log(`  xmpps://${a.directTls.host}:${a.directTls.port}  direct TLS (XEP-0368)`);
if (a.websocket !== undefined) {
  console.log(
    `  ws://${a.websocket.host}:${a.websocket.port}${DEFAULTS.websocketPath}  WebSocket (RFC 7395)`,
  );
}
if (a.websocketSecure !== undefined) {
  console.log(
    `  wss://${a.websocketSecure.host}:${a.websocketSecure.port}${DEFAULTS.websocketPath}  WebSocket over TLS`,
  );
}
const cert = server.certificate;
if (cert !== undefined) {
  console.log(
    cert.selfSigned
      ? `  certificate: self-signed for ${config.domain}, ${cert.created ? 'generated now' : 'kept'} in ${cert.files.certFile}`
      : `  certificate: ${cert.files.certFile}`,
  );
  console.log(`  SHA-256 fingerprint: ${cert.fingerprint256}`);
}
if (config.allowPlainWithoutTls ?? true) {
  console.log('  SASL PLAIN is allowed without TLS too (a demo; --plain-without-tls off to refuse it)');
}
console.log(
  cert === undefined
    ? '  connect with any XMPP client, e.g. @xmpp/client:'
    : `  connect with any XMPP client (trust the fingerprint above), e.g. @xmpp/client with NODE_EXTRA_CA_CERTS=${cert.files.certFile}:`,
);
console.log(
  `    client({ service: "xmpp://${host}:${port}", domain: "${config.domain}", username: "${config.users[0]!.user}", password: <its password> })`,
);
if (server.admin !== undefined) {
  const { url, token, tokenFile } = server.admin;
  console.log(`  admin: ${url}/api (HTTP API), ${url}/metrics, ${url}/healthz, ${url}/readyz`);
  // A generated token is printed (the operator needs it); a given one is not repeated.
  if (tokenFile !== undefined) {
    console.log(`  observer: ${url}/observer#token=${token}`);
    console.log(`  admin token (generated, also in ${tokenFile}): ${token}`);
  } else console.log(`  observer: ${url}/observer (asks for the admin token)`);
  console.log('  from the repository root: npx pnpm@10.34.8 ctl status');
} else if (config.adminPort !== 'off') {
  console.log(`  admin: off (port ${ADMIN_PORT} is taken; choose one with --admin-port <n>)`);
}
console.log('  SIGHUP reloads the configuration (vhosts, users, maxUserSessions) and the certificate files.');
console.log('  Ctrl-C to stop.');

// SIGHUP: read the flags and the config file again and apply what can change while running
// (ejabberd's `reload_config`); a bad file is refused and the running configuration stays.
let reloading = Promise.resolve();
const reload = async () => {
  let next: ReturnType<typeof parseConfig>;
  try {
    next = parseConfig(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`SIGHUP: configuration not reloaded: ${error.message}`);
    return;
  }
  if (next === 'help') return;
  const r = await server.reload(next);
  const list = (xs: readonly string[]) => (xs.length === 0 ? 'none' : xs.join(', '));
  console.log(
    `SIGHUP: configuration reloaded; hosts up: ${list(r.hostsUp)}; hosts down: ${list(r.hostsDown)}; ` +
      `users added: ${list(r.usersAdded)}`,
  );
  if (r.needsRestart.length > 0) console.log(`  a restart is needed to change: ${r.needsRestart.join(', ')}`);
  if (r.certificate === 'reloaded')
    console.log(`  certificate reloaded: ${server.certificate?.fingerprint256}`);
  else if (r.certificate !== 'none') console.error(`  certificate not reloaded: ${r.certificate.error}`);
};
process.on('SIGHUP', () => {
  reloading = reloading.then(reload).catch((error: unknown) => {
    console.error('SIGHUP: reload failed:', error);
  });
});

/** The longest an orderly stop may take (a frozen backend included) before the process exits anyway. */
const STOP_TIMEOUT_MS = 15_000;

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) {
    console.log('forced exit');
    process.exit(130);
  }
  stopping = true;
  console.log(`\n${signal}: draining: not ready, closing every stream (system-shutdown) and session...`);
  const deadline = setTimeout(() => {
    console.error(`stop did not finish within ${STOP_TIMEOUT_MS} ms; exiting`);
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  deadline.unref();
  await server.stop();
  console.log('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => (cluster.isWorker ? undefined : void stop('SIGINT')));
process.on('SIGTERM', () => void stop('SIGTERM'));
// Started by a parent process over IPC (tests, examples/cluster): stop with it.
if (process.send !== undefined) process.on('disconnect', () => void stop('parent gone'));
