import { Command, CommanderError } from 'commander';
import { DEFAULTS } from '../DEFAULTS.ts';
import type { ApiError } from '../httpApi.ts';
import type { CommandOperation, JsonSchema, OpenApiDocument } from '../openApi.ts';
import { defaultTokenFile } from '../tokenFile.ts';
import { EXIT } from './exitCodes.ts';

/** What `runCtl` reads and writes: the process's, or a test's. */
export interface CtlIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readFile: (path: string) => string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** A failure that ends the run with `code` after printing `message`. */
class CtlExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Connection {
  readonly url: string;
  readonly token: string | undefined;
  readonly fetch: typeof fetch;
}

/**
 * The token: `--token-file`, else `$OTP_CHAT_ADMIN_TOKEN`, else the file `$OTP_CHAT_ADMIN_TOKEN_FILE`,
 * else the file a local node that generated its token wrote ({@link defaultTokenFile}). Never a
 * flag's value (it would show in `ps`).
 */
function tokenOf(io: CtlIo, tokenFile: string | undefined, url: string): string | undefined {
  const file = tokenFile ?? (io.env[DEFAULTS.tokenEnv] ? undefined : io.env[DEFAULTS.tokenFileEnv]);
  if (file !== undefined && file !== '') {
    try {
      return io.readFile(file).trim();
    } catch (error) {
      throw new CtlExit(EXIT.usage, `cannot read the token file ${file}: ${(error as Error).message}`);
    }
  }
  const env = io.env[DEFAULTS.tokenEnv];
  if (env !== undefined && env !== '') return env.trim();
  const local = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(url);
  if (local === null) return undefined;
  try {
    return io.readFile(defaultTokenFile(Number(local[2]), io.env.HOME ?? undefined)).trim();
  } catch {
    return undefined;
  }
}

async function request(
  c: Connection,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Response> {
  try {
    return await c.fetch(`${c.url}${path}`, {
      method,
      headers: {
        ...(c.token === undefined ? {} : { authorization: `Bearer ${c.token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(DEFAULTS.cliTimeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CtlExit(
      EXIT.unreachable,
      `cannot reach the node at ${c.url} (${cause}); is it running? (--url or ${DEFAULTS.urlEnv})`,
    );
  }
}

/** The exit code and message of an answer that is not a 200. */
async function failure(res: Response): Promise<CtlExit> {
  let body: Partial<ApiError> = {};
  try {
    body = (await res.json()) as ApiError;
  } catch {
    // not JSON: the status says enough
  }
  const issues = body.issues
    ?.map((i) => `  ${i.path === '' ? '(arguments)' : i.path}: ${i.message}`)
    .join('\n');
  const message = `${body.message ?? `HTTP ${res.status}`}${issues ? `\n${issues}` : ''}`;
  if (res.status === 401 || res.status === 403) {
    const hint = res.status === 401 ? ` (set ${DEFAULTS.tokenEnv} or --token-file)` : '';
    return new CtlExit(EXIT.unauthorized, `${message}${hint}`);
  }
  if (res.status === 400 || res.status === 404) return new CtlExit(EXIT.usage, message);
  return new CtlExit(EXIT.failed, message);
}

/** A positional argument's text as the JSON value its schema wants. */
function argumentValue(text: string, schema: JsonSchema, name: string): unknown {
  const type = schema.type;
  if (type === 'integer' || type === 'number') {
    const n = Number(text);
    if (text.trim() === '' || Number.isNaN(n))
      throw new CtlExit(EXIT.usage, `${name}: not a number: ${text}`);
    return n;
  }
  if (type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new CtlExit(EXIT.usage, `${name}: expected true or false`);
    return text === 'true';
  }
  if (type === 'object' || type === 'array') {
    try {
      return JSON.parse(text);
    } catch {
      throw new CtlExit(EXIT.usage, `${name}: not JSON: ${text}`);
    }
  }
  return text;
}

/** A result for a terminal: text as is, lists one per line, records as tab-separated columns. */
export function formatResult(result: unknown): string {
  if (typeof result === 'string') return result;
  if (typeof result === 'number' || typeof result === 'boolean' || result === null) return String(result);
  if (Array.isArray(result)) {
    if (result.every((r) => typeof r !== 'object' || r === null)) return result.map(String).join('\n');
    const keys = [...new Set(result.flatMap((r) => Object.keys(r as object)))];
    const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? ''));
    return [
      keys.join('\t'),
      ...result.map((r) => keys.map((k) => cell((r as Record<string, unknown>)[k])).join('\t')),
    ].join('\n');
  }
  return Object.entries(result as Record<string, unknown>)
    .map(([k, v]) => `${k}\t${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

/** One subcommand from the command's OpenAPI operation: positional arguments in schema order. */
function subcommand(
  program: Command,
  op: CommandOperation,
  run: (args: Record<string, unknown>) => Promise<void>,
): void {
  const schema = op.requestBody.content['application/json'].schema;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const names = Object.keys(properties);
  const cmd = program.command(op.operationId).description(op.summary || op.operationId);
  for (const name of names) {
    const p = properties[name]!;
    const type = typeof p.type === 'string' ? p.type : 'json';
    const desc = `${type}${typeof p.description === 'string' ? `: ${p.description}` : ''}`;
    cmd.argument(required.has(name) ? `<${name}>` : `[${name}]`, desc);
  }
  const extra = [op.description, `policy: ${op['x-policy']}`, `tags: ${op.tags.join(', ') || '-'}`]
    .filter((s) => s !== '')
    .join('\n');
  cmd.addHelpText('after', `\n${extra}`);
  cmd.action(async (...values: unknown[]) => {
    const args: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const v = values[i];
      if (typeof v === 'string') args[name] = argumentValue(v, properties[name]!, name);
    });
    await run(args);
  });
}

/**
 * `otp-chat-ctl [options] <command> [args]`: learns the commands from the node (`GET /api`, only
 * those the token may run), makes one subcommand each (arguments and `--help` from the spec), runs
 * it through `POST /api/<command>` and prints the result (`--json`: as JSON). Resolves with the
 * exit code ({@link EXIT}).
 */
export async function runCtl(argv: readonly string[], io: CtlIo): Promise<number> {
  const program = new Command('otp-chat-ctl')
    .description("Run the otp-chat node's commands (ejabberdctl's role) through its admin API")
    .option(
      '--url <url>',
      `the node's admin API (default $${DEFAULTS.urlEnv} or http://${DEFAULTS.host}:${DEFAULTS.port})`,
    )
    .option(
      '--token-file <path>',
      `read the token from a file (default $${DEFAULTS.tokenEnv}, then the file $${DEFAULTS.tokenFileEnv})`,
    )
    .option('--json', 'print the result as JSON')
    .helpOption('-h, --help', 'show help (after a command: its arguments)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (s, write) => write(s) })
    .allowUnknownOption(true)
    .allowExcessArguments(true);
  try {
    // First the global options, to know where the node is; then the commands it has.
    const pre = new Command()
      .exitOverride()
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .helpOption(false)
      .option('--url <url>')
      .option('--token-file <path>')
      .option('--json');
    pre.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    pre.parse(argv as string[], { from: 'user' });
    const o = pre.opts<{ url?: string; tokenFile?: string; json?: boolean }>();
    const url = (o.url ?? io.env[DEFAULTS.urlEnv] ?? `http://${DEFAULTS.host}:${DEFAULTS.port}`).replace(
      /\/+$/,
      '',
    );
    const c: Connection = { url, token: tokenOf(io, o.tokenFile, url), fetch: io.fetch ?? globalThis.fetch };
    const wantsHelp = argv.includes('-h') || argv.includes('--help');
    let listing: Response;
    try {
      listing = await request(c, 'GET', '/api');
    } catch (error) {
      // Help without a node: the options at least, and why the commands are missing.
      if (wantsHelp && error instanceof CtlExit) io.stdout(program.helpInformation());
      throw error;
    }
    if (!listing.ok) throw await failure(listing);
    const doc = (await listing.json()) as OpenApiDocument;
    program.allowUnknownOption(false).allowExcessArguments(false);
    for (const { post } of Object.values(doc.paths)) {
      subcommand(program, post, async (args) => {
        const res = await request(c, 'POST', `/api/${encodeURIComponent(post.operationId)}`, args);
        if (!res.ok) throw await failure(res);
        const result: unknown = await res.json();
        io.stdout(`${o.json ? JSON.stringify(result, null, 2) : formatResult(result)}\n`);
      });
    }
    program.commands.forEach((cmd) => {
      cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    });
    const words = pre.args.filter((a) => !a.startsWith('-'));
    if (words.length === 0 && !wantsHelp) {
      io.stdout(program.helpInformation());
      return EXIT.usage;
    }
    // A command this token may not see: ask the node, which tells 401/403 from 404.
    if (words.length > 0 && !program.commands.some((cmd) => cmd.name() === words[0])) {
      const res = await request(c, 'POST', `/api/${encodeURIComponent(words[0]!)}`, {});
      throw res.ok ? new CtlExit(EXIT.usage, `${words[0]}: not listed for this token`) : await failure(res);
    }
    await program.parseAsync(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CtlExit) {
      io.stderr(`${error.message}\n`);
      return error.code;
    }
    if (error instanceof CommanderError) {
      // --help and --version are exits with code 0; everything else commander refuses is usage.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
}
