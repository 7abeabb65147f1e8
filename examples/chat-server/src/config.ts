import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { nameprep, nodeprep } from '@otp-chat/jid';
import { z } from 'zod';

/** What the chat server runs with. Every field has a default; flags and a JSON file override them. */
export interface ChatServerConfig {
  /** Listen address. */
  readonly host: string;
  readonly port: number;
  /** The XMPP domain (virtual host). */
  readonly domain: string;
  /**
   * More virtual hosts served besides `domain` (ejabberd's `hosts`); the users exist on each. A
   * reload (SIGHUP) adds and removes them while the server runs (`host_up`, `host_down`).
   */
  readonly vhosts: readonly string[];
  /** Session backend: the embedded memory one, Redis, or PostgreSQL (sessions and accounts). */
  readonly backend: 'memory' | 'redis' | 'postgres';
  /** Used when `backend` is `redis`. */
  readonly redisUrl: string;
  /** Used when `backend` is `postgres`. */
  readonly postgresUrl: string;
  /**
   * This node's name (the `ActorSystem`'s, Erlang's `node()`), written into every session row. Two
   * live nodes on one store must never share one. Absent: a name unique to this server is made at
   * start (`chat-<pid>-<random>@<hostname>`); give a fixed one so that a restarted node cleans the
   * rows its previous run left.
   */
  readonly node?: string | undefined;
  /**
   * The Redis of the cluster (`@otp-chat/cluster`): nodes that share a session store reach each
   * other's sessions through it. Absent: the Redis backend's URL with `--backend redis`, none with
   * the memory and PostgreSQL backends (PostgreSQL implies no Redis: give one to run several
   * nodes on one database); `'none'` turns it off.
   */
  readonly clusterUrl?: string | undefined;
  /** Cluster heartbeat interval and node timeout in ms (the cluster's defaults: 2000 and 7000). */
  readonly clusterHeartbeatMs?: number | undefined;
  readonly clusterTimeoutMs?: number | undefined;
  /** `max_user_sessions`; `Infinity` for unlimited. */
  readonly maxUserSessions: number;
  /** Users registered at start (`user:password`). */
  readonly users: readonly { readonly user: string; readonly password: string }[];
  /**
   * TLS: STARTTLS on `port`, direct TLS and `wss` with the certificate of `tlsCert` and `tlsKey`,
   * or, without them, a self-signed one generated into `dataDir` at first start. `false`: plain
   * TCP and `ws` only. @default true
   */
  readonly tls?: boolean | undefined;
  /** PEM certificate file (with `tlsKey`); SIGHUP reads it again. */
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Where the generated certificate is kept. @default examples/chat-server/data */
  readonly dataDir?: string | undefined;
  /** ejabberd's `starttls_required`: no login on `port` before STARTTLS. @default false */
  readonly starttlsRequired?: boolean | undefined;
  /** Offer PLAIN on unencrypted streams (the demo does, and its banner says so). @default true */
  readonly allowPlainWithoutTls?: boolean | undefined;
  /** Direct TLS (XEP-0368) port, or `'off'`. @default 5223 (a free one when `port` is 0) */
  readonly directTlsPort?: number | 'off' | undefined;
  /** WebSocket (RFC 7395) port, or `'off'`. @default 5280 (a free one when `port` is 0) */
  readonly websocketPort?: number | 'off' | undefined;
  /** WebSocket over TLS port, or `'off'`. @default 5443 (a free one when `port` is 0) */
  readonly websocketSecurePort?: number | 'off' | undefined;
  /**
   * Worker processes sharing the listening port (Node's `cluster`), each a node of the cluster,
   * supervised by a primary that restarts a dead one. Absent: one per core when the nodes can
   * reach each other (a shared store and a cluster: `--backend redis`, or postgres with
   * `--cluster-url`), else 1 (see {@link workersOf}).
   */
  readonly workers?: number | undefined;
  /**
   * The admin HTTP listener (`@otp-chat/admin`: API, `/metrics`, `/healthz`, `/readyz`, the
   * observer page): a port (0 for any), or `'off'`. Absent: `startChatServer` starts none, and
   * `pnpm start` (main.ts) tries 5281, going on without it when that port is taken.
   */
  readonly adminPort?: number | 'off' | undefined;
  /** Where the admin listener binds. @default '127.0.0.1' (loopback) */
  readonly adminHost?: string | undefined;
  /**
   * The admin token (the `local` caller: every command). Absent: `$OTP_CHAT_ADMIN_TOKEN`, else
   * one is generated, printed and written to `~/.otp-chat/admin-<port>.token` for `otp-chat-ctl`.
   */
  readonly adminToken?: string | undefined;
}

export const DEFAULT_CONFIG: ChatServerConfig = {
  host: '127.0.0.1',
  port: 5222,
  domain: 'localhost',
  vhosts: [],
  backend: 'memory',
  redisUrl: 'redis://127.0.0.1:6379',
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  maxUserSessions: 10,
  users: [
    { user: 'alice', password: 'alice' },
    { user: 'bob', password: 'bob' },
  ],
};

/** The cluster's Redis URL `config` asks for, or undefined for none (see `clusterUrl`). */
export function clusterUrlOf(config: ChatServerConfig): string | undefined {
  if (config.clusterUrl === 'none') return undefined;
  return config.clusterUrl ?? (config.backend === 'redis' ? config.redisUrl : undefined);
}

/**
 * How many worker processes `config` runs: `workers` when given, else one per core (`cores`) when
 * it has a cluster (the workers reach each other's sessions through it), else 1: the memory backend
 * keeps sessions in one process, and PostgreSQL without `--cluster-url` has no way between nodes.
 */
export function workersOf(config: ChatServerConfig, cores: number): number {
  return config.workers ?? (clusterUrlOf(config) === undefined ? 1 : Math.max(1, cores));
}

/** A bad flag or config file; `option` names the flag or the key (`users[0].user`). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly option: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`${option}: ${message}`, options);
  }
}

const USAGE = `usage: pnpm start [-- options]
  --host <addr>              listen address (default 127.0.0.1)
  --port <n>                 listen port (default 5222)
  --domain <name>            XMPP domain (default localhost)
  --vhost <name>             another virtual host served (repeatable; added and removed by a reload)
  --backend memory|redis|postgres  session backend (default memory); postgres keeps the
                             accounts there too
  --redis-url <url>          Redis URL for --backend redis (default redis://127.0.0.1:6379)
  --postgres-url <url>       PostgreSQL URL for --backend postgres
                             (default postgres://postgres@127.0.0.1:5432/postgres)
  --node <name>              this node's name, unique among the nodes sharing a store
                             (default: chat-<pid>-<random>@<hostname>, new at each start)
  --cluster-url <url|none>   Redis of the cluster: nodes on one store reach each other's sessions
                             (default: the --redis-url with --backend redis, none with memory or
                             postgres: give one to run several nodes on one PostgreSQL database)
  --cluster-heartbeat <ms>   cluster heartbeat interval (default 2000)
  --cluster-timeout <ms>     a node silent this long is down (default 7000)
  --max-user-sessions <n>    sessions per user, or "infinity" (default 10)
  --user <name:password>     a user (repeatable; default the demo users alice and bob)
  --tls on|off               STARTTLS, direct TLS and wss (default on)
  --tls-cert <file>          PEM certificate (with --tls-key; SIGHUP reads both again); without
                             them a self-signed one is generated into --data-dir at first start
  --tls-key <file>           its PEM private key
  --data-dir <dir>           where the generated certificate is kept (default examples/chat-server/data)
  --starttls-required on|off no login before STARTTLS on --port (default off)
  --plain-without-tls on|off offer SASL PLAIN on unencrypted streams (default on: a demo)
  --tls-port <n|off>         direct TLS (XEP-0368) port (default 5223; a free one with --port 0)
  --ws-port <n|off>          WebSocket (RFC 7395) port, ws://host:port/xmpp-websocket (default 5280)
  --wss-port <n|off>         WebSocket over TLS port (default 5443)
  --workers <n>              worker processes sharing the port, each a cluster node, restarted
                             when one dies (default: one per core with a cluster, i.e. --backend
                             redis or --cluster-url; 1 otherwise)
  --admin-port <n|off>       the admin HTTP API, /metrics, /healthz, /readyz and the observer page
                             (default 5281; if taken, the server runs without it); off: none
  --admin-host <addr>        its listen address (default 127.0.0.1)
  --admin-token <token>      its token (default $OTP_CHAT_ADMIN_TOKEN, else generated and printed)
  --config <file.json>       the same keys as JSON (host, port, domain, vhosts, backend, redisUrl,
                             postgresUrl, node, clusterUrl, clusterHeartbeatMs, clusterTimeoutMs,
                             maxUserSessions, users: [{user, password}], tls, tlsCert, tlsKey,
                             dataDir, starttlsRequired, allowPlainWithoutTls, directTlsPort,
                             websocketPort, websocketSecurePort, adminPort, adminHost, adminToken,
                             workers); flags win; SIGHUP reads it again (vhosts, users and
                             maxUserSessions change while running) and the certificate files`;

export { USAGE };

/** Every name a valid XMPP localpart (nodeprep), every host a valid domain (nameprep). */
const userName = z
  .string()
  .min(1, 'an empty user name')
  .refine((u) => prepares(nodeprep, u), 'not a valid XMPP user name (nodeprep)');
const domain = z
  .string()
  .min(1, 'an empty domain')
  .refine((d) => prepares(nameprep, d), 'not a valid XMPP domain (nameprep)');

function prepares(prep: (s: string) => string, s: string): boolean {
  try {
    return prep(s) !== '';
  } catch {
    return false;
  }
}

/** Node names as Erlang's (`name@host`: letters, digits, `_`, `-`, `.`), at most 255 characters. */
const nodeName = z
  .string()
  .max(255, 'a node name of at most 255 characters')
  .regex(/^[A-Za-z0-9_.-]+(@[A-Za-z0-9_.-]+)?$/, 'not a node name (letters, digits, _ - . and one @)');

/** A port of an optional listener, or `'off'`. */
const listenPort = z.union([z.literal('off'), z.number().int('not an integer').min(0).max(65535)]);

/** `on`/`off` (and `true`/`false`) as a boolean; anything else stays a string, which zod refuses. */
function onOff(v: string): boolean | string {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  return v;
}

/** The whole configuration, strictly: an unknown key is an error, naming it. */
const configSchema = z
  .object({
    host: z.string().min(1, 'an empty listen address'),
    port: z.number().int('not an integer').min(0).max(65535),
    domain,
    vhosts: z.array(domain),
    backend: z.enum(['memory', 'redis', 'postgres']),
    redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, 'not a redis:// or rediss:// URL'),
    postgresUrl: z.string().regex(/^postgres(?:ql)?:\/\/\S+$/, 'not a postgres:// or postgresql:// URL'),
    node: nodeName.optional(),
    clusterUrl: z
      .union([
        z.literal('none'),
        z.string().regex(/^rediss?:\/\/\S+$/, 'not none nor a redis:// or rediss:// URL'),
      ])
      .optional(),
    clusterHeartbeatMs: z.number().int('not an integer').min(1, 'not a positive number of ms').optional(),
    clusterTimeoutMs: z.number().int('not an integer').min(1, 'not a positive number of ms').optional(),
    maxUserSessions: z.union([z.number().int('not an integer').min(1), z.literal(Number.POSITIVE_INFINITY)]),
    users: z
      .array(z.object({ user: userName, password: z.string().min(1, 'an empty password') }).strict())
      .min(1, 'at least one user'),
    tls: z.boolean().optional(),
    tlsCert: z.string().min(1, 'an empty file name').optional(),
    tlsKey: z.string().min(1, 'an empty file name').optional(),
    dataDir: z.string().min(1, 'an empty directory name').optional(),
    starttlsRequired: z.boolean().optional(),
    allowPlainWithoutTls: z.boolean().optional(),
    directTlsPort: listenPort.optional(),
    websocketPort: listenPort.optional(),
    websocketSecurePort: listenPort.optional(),
    workers: z.number().int('not an integer').min(1, 'at least 1').max(256, 'at most 256').optional(),
    adminPort: z.union([z.number().int('not an integer').min(0).max(65535), z.literal('off')]).optional(),
    adminHost: z.string().min(1, 'an empty listen address').optional(),
    adminToken: z.string().min(16, 'an admin token of at least 16 characters').optional(),
  })
  .strict();

/** A JSON file may give any subset of the keys; `maxUserSessions` may be `"infinity"`. */
const fileSchema = configSchema.partial().extend({
  maxUserSessions: z
    .union([z.literal('infinity'), z.number()])
    .transform((v) => (v === 'infinity' ? Number.POSITIVE_INFINITY : v))
    .pipe(configSchema.shape.maxUserSessions)
    .optional(),
});

/** `users[0].user`, `port`, … from a zod issue path. */
function keyOf(path: readonly PropertyKey[]): string {
  let key = '';
  for (const p of path) key += typeof p === 'number' ? `[${p}]` : key === '' ? String(p) : `.${String(p)}`;
  return key;
}

/** Parses `value`; the first issue becomes a ConfigError naming `where` and the key. */
function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
  const key = keyOf(path);
  const option = key === '' ? where || '(config)' : where === '' ? key : `${where}: ${key}`;
  throw new ConfigError(option, message, { cause: result.error });
}

/**
 * Each flag, the configuration key it sets and how its string becomes the key's value; the zod
 * schema then checks the value, so an error names the flag (`--port: …`). One row per flag: the
 * parser's options are made from this table.
 */
const FLAGS = {
  host: { key: 'host', value: (v: string) => v },
  port: { key: 'port', value: (v: string) => (v.trim() === '' ? Number.NaN : Number(v)) },
  domain: { key: 'domain', value: (v: string) => v },
  backend: { key: 'backend', value: (v: string) => v },
  'redis-url': { key: 'redisUrl', value: (v: string) => v },
  'postgres-url': { key: 'postgresUrl', value: (v: string) => v },
  node: { key: 'node', value: (v: string) => v },
  'cluster-url': { key: 'clusterUrl', value: (v: string) => v },
  'cluster-heartbeat': {
    key: 'clusterHeartbeatMs',
    value: (v: string) => (v.trim() === '' ? Number.NaN : Number(v)),
  },
  'cluster-timeout': {
    key: 'clusterTimeoutMs',
    value: (v: string) => (v.trim() === '' ? Number.NaN : Number(v)),
  },
  'admin-port': { key: 'adminPort', value: portOrOff },
  'admin-host': { key: 'adminHost', value: (v: string) => v },
  'admin-token': { key: 'adminToken', value: (v: string) => v },
  'max-user-sessions': {
    key: 'maxUserSessions',
    value: (v: string) => (v === 'infinity' ? Number.POSITIVE_INFINITY : Number(v)),
  },
  tls: { key: 'tls', value: onOff },
  'tls-cert': { key: 'tlsCert', value: (v: string) => v },
  'tls-key': { key: 'tlsKey', value: (v: string) => v },
  'data-dir': { key: 'dataDir', value: (v: string) => v },
  'starttls-required': { key: 'starttlsRequired', value: onOff },
  'plain-without-tls': { key: 'allowPlainWithoutTls', value: onOff },
  'tls-port': { key: 'directTlsPort', value: portOrOff },
  'ws-port': { key: 'websocketPort', value: portOrOff },
  'wss-port': { key: 'websocketSecurePort', value: portOrOff },
  workers: { key: 'workers', value: (v: string) => (v.trim() === '' ? Number.NaN : Number(v)) },
} as const satisfies Record<string, { key: keyof ChatServerConfig; value: (v: string) => unknown }>;

type Flag = keyof typeof FLAGS;

function portOrOff(v: string): number | 'off' {
  return v === 'off' ? 'off' : v.trim() === '' ? Number.NaN : Number(v);
}

/** `node:util` `parseArgs` options: the flags above, then `--user` and `--vhost` (repeatable), `--config`, `--help`. */
const OPTIONS: ParseArgsConfig['options'] = {
  ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
  user: { type: 'string', multiple: true },
  vhost: { type: 'string', multiple: true },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function parseUser(value: string): { user: string; password: string } {
  const at = value.indexOf(':');
  if (at <= 0 || at === value.length - 1)
    throw new ConfigError('--user', `expected name:password, got ${value}`);
  return { user: value.slice(0, at), password: value.slice(at + 1) };
}

/** A `parseArgs` error as a {@link ConfigError} naming the flag or the argument it is about. */
function flagError(error: unknown): ConfigError {
  const { code, message } = error as { code?: string; message?: string };
  // Node quotes the option or argument first: "Unknown option '--bogus'", "Option '--port <value>'
  // argument missing", "Option '-h, --help' does not take an argument", "Unexpected argument 'x'".
  const quoted = /'([^']+)'/.exec(message ?? '')?.[1] ?? '';
  const option = /--[\w-]+/.exec(quoted)?.[0] ?? (quoted.split(/[ ,]/)[0] || '(arguments)');
  const why =
    code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? 'unknown option'
      : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'unexpected argument'
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? 'missing or invalid value'
          : (message ?? 'cannot be parsed');
  return new ConfigError(option, why, { cause: error });
}

/**
 * Reads `--config` (if any), then the flags, over {@link DEFAULT_CONFIG}, and validates the result
 * with a zod schema: a bad value or an unknown key is a {@link ConfigError} that names it
 * (`--port: …`, `config.json: users[0].user: …`). The flags are parsed by `node:util`'s
 * `parseArgs` (strict: an unknown flag, a missing value or a positional argument is an error);
 * a `--` (as `pnpm start -- …` may pass) is ignored.
 */
export function parseConfig(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ChatServerConfig | 'help' {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.filter((arg) => arg !== '--'),
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw flagError(error);
  }
  if (values.help === true) return 'help';
  let config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const file = values.config;
  if (typeof file === 'string') {
    let json: unknown;
    try {
      json = JSON.parse(readFile(file));
    } catch (cause) {
      throw new ConfigError('--config', `cannot read ${file}: ${(cause as Error).message}`, { cause });
    }
    config = { ...config, ...validate(fileSchema, json, file) };
  }
  for (const flag of Object.keys(FLAGS) as Flag[]) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const { key, value } = FLAGS[flag];
    const parsed = value(raw);
    // Each flag is checked on its own, so that the error names the flag.
    validate(configSchema.shape[key] as z.ZodType<unknown>, parsed, `--${flag}`);
    config[key] = parsed;
  }
  const users = values.user;
  if (Array.isArray(users) && users.length > 0) {
    const parsed = users.map((u) => parseUser(String(u)));
    validate(configSchema.shape.users, parsed, '--user');
    config.users = parsed;
  }
  const vhosts = values.vhost;
  if (Array.isArray(vhosts) && vhosts.length > 0) {
    const parsed = vhosts.map(String);
    validate(configSchema.shape.vhosts, parsed, '--vhost');
    config.vhosts = parsed;
  }
  const result = validate(configSchema, config, '');
  const served = [result.domain, ...result.vhosts].map((h) => nameprep(h));
  const twice = served.find((h, i) => served.indexOf(h) !== i);
  if (twice !== undefined) throw new ConfigError('vhosts', `${twice} is served twice`);
  if ((result.tlsCert === undefined) !== (result.tlsKey === undefined)) {
    throw new ConfigError(
      result.tlsCert === undefined ? '--tls-cert' : '--tls-key',
      'give both --tls-cert and --tls-key',
    );
  }
  if (result.backend === 'memory' && clusterUrlOf(result) !== undefined) {
    throw new ConfigError(
      '--cluster-url',
      'the memory backend keeps sessions in this process: a cluster needs a shared store (--backend redis or postgres)',
    );
  }
  if ((result.workers ?? 1) > 1 && clusterUrlOf(result) === undefined) {
    throw new ConfigError(
      '--workers',
      result.backend === 'memory'
        ? 'the memory backend keeps sessions in one process: several workers need --backend redis or postgres'
        : 'several workers reach each other through a cluster: give --cluster-url (or use --backend redis)',
    );
  }
  return result;
}
