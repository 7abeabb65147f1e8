import { readFileSync } from 'node:fs';

/** What the chat server runs with. Every field has a default; flags and a JSON file override them. */
export interface ChatServerConfig {
  /** Listen address. */
  readonly host: string;
  readonly port: number;
  /** The XMPP domain (virtual host). */
  readonly domain: string;
  /** Session backend: the embedded memory one, Redis, or PostgreSQL (sessions and accounts). */
  readonly backend: 'memory' | 'redis' | 'postgres';
  /** Used when `backend` is `redis`. */
  readonly redisUrl: string;
  /** Used when `backend` is `postgres`. */
  readonly postgresUrl: string;
  /** `max_user_sessions`; `Infinity` for unlimited. */
  readonly maxUserSessions: number;
  /** Demo users registered at start (`user:password`). */
  readonly users: readonly { readonly user: string; readonly password: string }[];
}

export const DEFAULT_CONFIG: ChatServerConfig = {
  host: '127.0.0.1',
  port: 5222,
  domain: 'localhost',
  backend: 'memory',
  redisUrl: 'redis://127.0.0.1:6379',
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  maxUserSessions: 10,
  users: [
    { user: 'alice', password: 'alice' },
    { user: 'bob', password: 'bob' },
  ],
};

/** A bad flag or config file. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}

const USAGE = `usage: pnpm start [-- options]
  --host <addr>              listen address (default 127.0.0.1)
  --port <n>                 listen port (default 5222)
  --domain <name>            XMPP domain (default localhost)
  --backend memory|redis|postgres  session backend (default memory); postgres keeps the
                             accounts there too
  --redis-url <url>          Redis URL for --backend redis (default redis://127.0.0.1:6379)
  --postgres-url <url>       PostgreSQL URL for --backend postgres
                             (default postgres://postgres@127.0.0.1:5432/postgres)
  --max-user-sessions <n>    sessions per user, or "infinity" (default 10)
  --user <name:password>     a demo user (repeatable; default alice:alice and bob:bob)
  --config <file.json>       the same keys as JSON (host, port, domain, backend, redisUrl,
                             postgresUrl, maxUserSessions, users: [{user, password}]); flags win`;

export { USAGE };

function parsePort(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(option, `not a port: ${value}`);
  return n;
}

function parseMax(option: string, value: string | number): number {
  if (value === 'infinity' || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(option, `not a positive integer: ${value}`);
  return n;
}

function parseUser(option: string, value: string): { user: string; password: string } {
  const at = value.indexOf(':');
  if (at <= 0 || at === value.length - 1)
    throw new ConfigError(option, `expected name:password, got ${value}`);
  return { user: value.slice(0, at), password: value.slice(at + 1) };
}

function parseBackend(option: string, value: string): ChatServerConfig['backend'] {
  if (value !== 'memory' && value !== 'redis' && value !== 'postgres') {
    throw new ConfigError(option, `memory, redis or postgres, got ${value}`);
  }
  return value;
}

/** Reads `--config` (if any), then the flags, over {@link DEFAULT_CONFIG}. */
export function parseConfig(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ChatServerConfig | 'help' {
  let config: ChatServerConfig = DEFAULT_CONFIG;
  const flags: Array<[string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument');
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(name, 'missing value');
    flags.push([name, value]);
  }
  const file = flags.find(([n]) => n === '--config');
  if (file !== undefined) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFile(file[1])) as Record<string, unknown>;
    } catch (cause) {
      throw new ConfigError('--config', `cannot read ${file[1]}: ${(cause as Error).message}`);
    }
    config = {
      host: typeof json.host === 'string' ? json.host : config.host,
      port: json.port === undefined ? config.port : parsePort('port', String(json.port)),
      domain: typeof json.domain === 'string' ? json.domain : config.domain,
      backend: json.backend === undefined ? config.backend : parseBackend('backend', String(json.backend)),
      redisUrl: typeof json.redisUrl === 'string' ? json.redisUrl : config.redisUrl,
      postgresUrl: typeof json.postgresUrl === 'string' ? json.postgresUrl : config.postgresUrl,
      maxUserSessions:
        json.maxUserSessions === undefined
          ? config.maxUserSessions
          : parseMax('maxUserSessions', json.maxUserSessions as string | number),
      users: Array.isArray(json.users)
        ? (json.users as Array<{ user: string; password: string }>).map((u) =>
            parseUser('users', `${u.user}:${u.password}`),
          )
        : config.users,
    };
  }
  const users: Array<{ user: string; password: string }> = [];
  for (const [name, value] of flags) {
    switch (name) {
      case '--config':
        break;
      case '--host':
        config = { ...config, host: value };
        break;
      case '--port':
        config = { ...config, port: parsePort(name, value) };
        break;
      case '--domain':
        config = { ...config, domain: value };
        break;
      case '--backend':
        config = { ...config, backend: parseBackend(name, value) };
        break;
      case '--redis-url':
        config = { ...config, redisUrl: value };
        break;
      case '--postgres-url':
        config = { ...config, postgresUrl: value };
        break;
      case '--max-user-sessions':
        config = { ...config, maxUserSessions: parseMax(name, value) };
        break;
      case '--user':
        users.push(parseUser(name, value));
        break;
      default:
        throw new ConfigError(name, 'unknown option');
    }
  }
  return users.length > 0 ? { ...config, users } : config;
}
