import { readFileSync } from 'node:fs';
import { nameprep, nodeprep } from '@otp-chat/jid';
import { z } from 'zod';

/** What the chat server runs with. Every field has a default; flags and a JSON file override them. */
export interface ChatServerConfig {
  /** Listen address. */
  readonly host: string;
  readonly port: number;
  /** The XMPP domain (virtual host). */
  readonly domain: string;
  /** Session backend: the embedded memory one, or Redis. */
  readonly backend: 'memory' | 'redis';
  /** Used when `backend` is `redis`. */
  readonly redisUrl: string;
  /** `max_user_sessions`; `Infinity` for unlimited. */
  readonly maxUserSessions: number;
  /** Users registered at start (`user:password`). */
  readonly users: readonly { readonly user: string; readonly password: string }[];
}

export const DEFAULT_CONFIG: ChatServerConfig = {
  host: '127.0.0.1',
  port: 5222,
  domain: 'localhost',
  backend: 'memory',
  redisUrl: 'redis://127.0.0.1:6379',
  maxUserSessions: 10,
  users: [
    { user: 'alice', password: 'alice' },
    { user: 'bob', password: 'bob' },
  ],
};

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
  --backend memory|redis     session backend (default memory)
  --redis-url <url>          Redis URL for --backend redis (default redis://127.0.0.1:6379)
  --max-user-sessions <n>    sessions per user, or "infinity" (default 10)
  --user <name:password>     a user (repeatable; default the demo users alice and bob)
  --config <file.json>       the same keys as JSON (host, port, domain, backend, redisUrl,
                             maxUserSessions, users: [{user, password}]); flags win`;

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

/** The whole configuration, strictly: an unknown key is an error, naming it. */
const configSchema = z
  .object({
    host: z.string().min(1, 'an empty listen address'),
    port: z.number().int('not an integer').min(0).max(65535),
    domain,
    backend: z.enum(['memory', 'redis']),
    redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, 'not a redis:// or rediss:// URL'),
    maxUserSessions: z.union([z.number().int('not an integer').min(1), z.literal(Number.POSITIVE_INFINITY)]),
    users: z
      .array(z.object({ user: userName, password: z.string().min(1, 'an empty password') }).strict())
      .min(1, 'at least one user'),
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

/** The flag → key of the configuration (values arrive as strings). */
const FLAGS: Readonly<Record<string, (value: string) => [keyof ChatServerConfig, unknown]>> = {
  '--host': (v) => ['host', v],
  '--port': (v) => ['port', v.trim() === '' ? Number.NaN : Number(v)],
  '--domain': (v) => ['domain', v],
  '--backend': (v) => ['backend', v],
  '--redis-url': (v) => ['redisUrl', v],
  '--max-user-sessions': (v) => ['maxUserSessions', v === 'infinity' ? Number.POSITIVE_INFINITY : Number(v)],
};

function parseUser(value: string): { user: string; password: string } {
  const at = value.indexOf(':');
  if (at <= 0 || at === value.length - 1)
    throw new ConfigError('--user', `expected name:password, got ${value}`);
  return { user: value.slice(0, at), password: value.slice(at + 1) };
}

/**
 * Reads `--config` (if any), then the flags, over {@link DEFAULT_CONFIG}, and validates the result
 * with a zod schema: a bad value or an unknown key is a {@link ConfigError} that names it
 * (`--port: …`, `config.json: users[0].user: …`).
 */
export function parseConfig(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ChatServerConfig | 'help' {
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
    if (name !== '--config' && name !== '--user' && FLAGS[name] === undefined) {
      throw new ConfigError(name, 'unknown option');
    }
    flags.push([name, value]);
  }
  let config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const file = flags.find(([n]) => n === '--config');
  if (file !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFile(file[1]));
    } catch (cause) {
      throw new ConfigError('--config', `cannot read ${file[1]}: ${(cause as Error).message}`, { cause });
    }
    config = { ...config, ...validate(fileSchema, json, file[1]) };
  }
  const users: Array<{ user: string; password: string }> = [];
  for (const [name, value] of flags) {
    if (name === '--config') continue;
    if (name === '--user') {
      users.push(parseUser(value));
      continue;
    }
    const [key, parsed] = FLAGS[name]!(value);
    // Each flag is checked on its own, so that the error names the flag.
    validate(configSchema.shape[key] as z.ZodType<unknown>, parsed, name);
    config[key] = parsed;
  }
  if (users.length > 0) {
    validate(configSchema.shape.users, users, '--user');
    config.users = users;
  }
  return validate(configSchema, config, '');
}
