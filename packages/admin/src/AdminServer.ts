import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '@otp-chat/actor';
import type { Commands } from '@otp-chat/event-bus';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { AdminMetrics } from './AdminMetrics.ts';
import type { AdminTokens } from './AdminTokens.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import { type ReadinessCheck, registerHealth } from './health.ts';
import { registerApi } from './httpApi.ts';
import type { Observer } from './Observer.ts';
import { registerObserver } from './observerRoutes.ts';

/** The `error` of a 4xx fastify itself answers (before any route runs). */
const TRANSPORT_ERRORS: Readonly<Record<number, string>> = {
  413: 'body_too_large',
  415: 'unsupported_media_type',
};

/** Options of {@link AdminServer.start}. */
export interface AdminServerOptions {
  /** The command registry the API runs (`XmppServer.commands`). */
  readonly commands: Commands;
  readonly tokens: AdminTokens;
  /** @default '127.0.0.1' (loopback: the admin surface is not exposed unless asked) */
  readonly host?: string;
  /** 0 for any free port. @default 5281 */
  readonly port?: number;
  /** Served at `/metrics` (Prometheus text format, no token: keep the listener on loopback or a private network). */
  readonly metrics?: AdminMetrics;
  /** What `/readyz` checks (backends, cluster). @default none: ready while not draining */
  readonly readiness?: readonly ReadinessCheck[];
  /** The observer page at `/observer` and its data (token required). */
  readonly observer?: Observer;
  /** @default silentLogger */
  readonly logger?: Logger;
  /** @default `DEFAULTS.bodyLimitBytes` */
  readonly bodyLimitBytes?: number;
  /** @default `DEFAULTS.commandTimeoutMs` */
  readonly commandTimeoutMs?: number;
}

/**
 * The node's admin HTTP listener (fastify): the command API (`/api`), `/metrics`, `/healthz`,
 * `/readyz` and the observer page. Every error answer is JSON (`ApiError`); a malformed body is a
 * 4xx, never a 500.
 */
export class AdminServer {
  private draining = false;

  private constructor(
    readonly app: FastifyInstance,
    readonly address: { readonly host: string; readonly port: number },
  ) {}

  /** Binds the listener; rejects when the port cannot be bound. */
  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const logger = options.logger ?? silentLogger;
    const app = Fastify({
      logger: false,
      bodyLimit: options.bodyLimitBytes ?? DEFAULTS.bodyLimitBytes,
    });
    // An empty JSON body is no arguments (`curl -X POST -H 'content-type: application/json'`);
    // anything else goes to fastify's parser, which refuses `__proto__` and `constructor` keys (400).
    const json = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') done(null, undefined);
      else json(request, text, done);
    });
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
      if (status >= 500) logger.error({ err: error }, 'admin server: request failed');
      const code = status >= 500 ? 'internal_error' : (TRANSPORT_ERRORS[status] ?? 'bad_request');
      return reply
        .code(status)
        .type('application/json')
        .send(JSON.stringify({ error: code, message: error.message }));
    });
    app.setNotFoundHandler((request, reply) =>
      reply
        .code(404)
        .type('application/json')
        .send(JSON.stringify({ error: 'not_found', message: `no route ${request.method} ${request.url}` })),
    );
    let server: AdminServer | undefined;
    registerApi(app, {
      commands: options.commands,
      tokens: options.tokens,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      logger,
    });
    registerHealth(
      app,
      options.readiness ?? [],
      DEFAULTS.readinessTimeoutMs,
      () => server?.draining ?? false,
    );
    const metrics = options.metrics;
    if (metrics !== undefined) {
      app.get('/metrics', async (_request, reply) =>
        reply.type(metrics.registry.contentType).send(await metrics.metrics()),
      );
    }
    if (options.observer !== undefined) registerObserver(app, options.observer, options.tokens);
    await app.listen({ host: options.host ?? DEFAULTS.host, port: options.port ?? DEFAULTS.port });
    const bound = app.server.address() as AddressInfo;
    server = new AdminServer(app, { host: bound.address, port: bound.port });
    return server;
  }

  /** The base URL of the API (`http://127.0.0.1:5281`). */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** True once {@link drain} was called: `/readyz` answers 503. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Marks the node as stopping: `/readyz` answers 503 while the rest still works. */
  drain(): void {
    this.draining = true;
  }

  /** Closes the listener (open SSE streams included). Idempotent. */
  async stop(): Promise<void> {
    this.draining = true;
    await this.app.close();
  }
}
