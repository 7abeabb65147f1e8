import { type Caller, type CommandInfo, type Commands, policyAdmits } from '@otp-chat/event-bus';
import { z } from 'zod';

/** A JSON Schema object, as zod's `toJSONSchema` produces it. */
export type JsonSchema = Record<string, unknown>;

/** The OpenAPI 3.1 operation of one command, with its policy and tags as extensions. */
export interface CommandOperation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly 'x-policy': CommandInfo['policy'];
  readonly 'x-version': number;
  readonly requestBody: {
    readonly required: false;
    readonly content: { readonly 'application/json': { readonly schema: JsonSchema } };
  };
  readonly responses: Readonly<Record<string, unknown>>;
}

/** The document `GET /api` answers. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string };
  readonly components: { readonly securitySchemes: Readonly<Record<string, unknown>> };
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly paths: Readonly<Record<string, { readonly post: CommandOperation }>>;
}

/**
 * A JSON Schema of `schema` (draft 2020-12, the dialect of OpenAPI 3.1); what JSON cannot express
 * (a transform, a date) becomes `{}` rather than failing the whole document.
 */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    issues: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  required: ['error', 'message'],
};

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: ERROR_SCHEMA } } };
}

/**
 * The commands `caller` may run (the latest version of each), as an OpenAPI 3.1 document: one
 * `POST /api/<command>` per command, its request body the argument schema (for policy `user`
 * called by a user, without `user` and `host`, which are injected), its 200 answer the result
 * schema. What a caller may not run is left out, as `Commands.execute` tells it nothing about
 * the arguments either.
 */
export function openApiDocument(commands: Commands, caller: Caller, version = '0.1.0'): OpenApiDocument {
  const latest = new Map<string, CommandInfo>();
  for (const info of commands.list()) latest.set(info.name, info);
  const paths: Record<string, { post: CommandOperation }> = {};
  for (const info of latest.values()) {
    if (!policyAdmits(info.policy, caller)) continue;
    const args =
      info.policy === 'user' && caller.kind === 'user'
        ? info.args.omit({ user: true, host: true })
        : info.args;
    paths[`/api/${info.name}`] = {
      post: {
        operationId: info.name,
        summary: info.description,
        description: [info.longDescription, info.note].filter((s) => s !== '').join('\n\n'),
        tags: info.tags,
        'x-policy': info.policy,
        'x-version': info.version,
        requestBody: {
          required: false,
          content: { 'application/json': { schema: jsonSchemaOf(args, 'input') } },
        },
        responses: {
          '200': {
            description: 'The command ran; its result.',
            content: { 'application/json': { schema: jsonSchemaOf(info.result, 'output') } },
          },
          '400': errorResponse(
            'The body is not JSON, or an argument is invalid (`issues` names each field).',
          ),
          '401': errorResponse('No token, or an unknown or revoked one.'),
          '403': errorResponse("The token's caller may not run this command."),
          '404': errorResponse('No such command.'),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'otp-chat admin API', version },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
