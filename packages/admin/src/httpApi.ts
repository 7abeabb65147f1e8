import type { Logger } from '@otp-chat/actor';
import {
  AccessDeniedError,
  type ArgumentIssue,
  type Caller,
  type Commands,
  InvalidArgumentsError,
  UnknownCommandError,
} from '@otp-chat/event-bus';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AdminTokens } from './AdminTokens.ts';
import { type Authentication, authenticate } from './authenticate.ts';
import { openApiDocument } from './openApi.ts';

/** The JSON body of every answer that is not a 200. */
export interface ApiError {
  /** `unauthorized`, `forbidden`, `invalid_arguments`, `unknown_command`, `timeout`, `command_failed`, or a transport error (`bad_request`, …). */
  readonly error: string;
  readonly message: string;
  /** For `invalid_arguments`: each bad field, by dotted path (`''` is the body itself). */
  readonly issues?: readonly ArgumentIssue[];
}

/** What the API routes need. */
export interface ApiOptions {
  readonly commands: Commands;
  readonly tokens: AdminTokens;
  /** Longest one command may run before the answer is a 504 (the command itself is not cancelled). */
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

function send(reply: FastifyReply, status: number, body: ApiError): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="otp-chat"');
  return reply.code(status).type('application/json').send(JSON.stringify(body));
}

/** The caller of a request, or the 401 already sent. */
function callerOrReject(auth: Authentication, reply: FastifyReply): Caller | undefined {
  if ('caller' in auth) return auth.caller;
  send(reply, 401, { error: 'unauthorized', message: auth.invalid });
  return undefined;
}

const NO_RESULT = Symbol('timeout');

/**
 * `mod_http_api` on fastify: `GET /api` (the OpenAPI document of what the caller may run) and
 * `POST /api/<command>` (the JSON body is the arguments; the answer is the result as JSON). The
 * status codes: 401 without a token for a command that needs one or with an unknown or revoked
 * token, 403 when the token's caller may not run the command, 400 with `issues` naming each bad
 * field (a body that is not a JSON object is the field `''`), 404 for an unknown command, 504 past
 * `commandTimeoutMs`, 500 only when the command itself failed.
 */
export function registerApi(app: FastifyInstance, options: ApiOptions): void {
  const { commands, tokens } = options;
  app.get('/api', async (request, reply) => {
    const caller = callerOrReject(authenticate(tokens, request.headers.authorization), reply);
    if (caller === undefined) return reply;
    return reply.type('application/json').send(JSON.stringify(openApiDocument(commands, caller)));
  });
  app.post<{ Params: { command: string }; Querystring: { version?: string } }>(
    '/api/:command',
    async (request, reply) => {
      const caller = callerOrReject(authenticate(tokens, request.headers.authorization), reply);
      if (caller === undefined) return reply;
      const name = request.params.command;
      const versionText = request.query.version;
      const version = versionText === undefined ? undefined : Number(versionText);
      if (version !== undefined && !(Number.isInteger(version) && version >= 0)) {
        return send(reply, 400, {
          error: 'invalid_arguments',
          message: 'version: not a non-negative integer',
          issues: [{ path: 'version', message: 'not a non-negative integer' }],
        });
      }
      const body = request.body === undefined ? {} : request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return send(reply, 400, {
          error: 'invalid_arguments',
          message: 'the body must be a JSON object of the arguments',
          issues: [{ path: '', message: 'expected a JSON object' }],
        });
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        const run = commands.execute(name, body as Record<string, unknown>, caller, version);
        const timeout = new Promise<typeof NO_RESULT>((resolve) => {
          timer = setTimeout(() => resolve(NO_RESULT), options.commandTimeoutMs);
        });
        const result = await Promise.race([run, timeout]);
        if (result === NO_RESULT) {
          run.catch(() => {}); // finishes (or fails) unobserved; command_executed still reports it
          return send(reply, 504, {
            error: 'timeout',
            message: `command "${name}" did not finish within ${options.commandTimeoutMs} ms`,
          });
        }
        return reply.type('application/json').send(JSON.stringify(result ?? null));
      } catch (error) {
        if (error instanceof UnknownCommandError) {
          return send(reply, 404, { error: 'unknown_command', message: error.message });
        }
        if (error instanceof AccessDeniedError) {
          // No token at all: authenticating may help (401); a known caller refused: 403.
          return caller.kind === 'anonymous'
            ? send(reply, 401, { error: 'unauthorized', message: `command "${name}" needs a token` })
            : send(reply, 403, { error: 'forbidden', message: error.message });
        }
        if (error instanceof InvalidArgumentsError) {
          return send(reply, 400, {
            error: 'invalid_arguments',
            message: error.message,
            issues: error.issues,
          });
        }
        options.logger.error({ err: error, command: name }, 'admin api: command failed');
        return send(reply, 500, {
          error: 'command_failed',
          message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      } finally {
        clearTimeout(timer);
      }
    },
  );
}
