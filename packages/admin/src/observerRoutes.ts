import type { FastifyInstance } from 'fastify';
import type { AdminTokens } from './AdminTokens.ts';
import { authenticate } from './authenticate.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import type { Observer } from './Observer.ts';
import { OBSERVER_PAGE } from './observerPage.ts';

/**
 * `GET /observer`: the page (self-contained HTML, no CDN, no token needed to load it: it holds no
 * data). `GET /observer/state`: one snapshot. `GET /observer/events`: a snapshot every
 * `observer.intervalMs` as server-sent events (`text/event-stream`). Both data routes need a token
 * of a `local` or `admin` caller, given as `Authorization: Bearer`, never in the URL (the page
 * reads the stream with `fetch`, which can send the header, where `EventSource` cannot).
 */
export function registerObserver(app: FastifyInstance, observer: Observer, tokens: AdminTokens): void {
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });
  const allowed = (header: string | undefined): 401 | 403 | undefined => {
    const auth = authenticate(tokens, header);
    if (!('caller' in auth) || auth.caller.kind === 'anonymous') return 401;
    return auth.caller.kind === 'local' || auth.caller.kind === 'admin' ? undefined : 403;
  };
  const refuse = (status: 401 | 403) =>
    JSON.stringify({
      error: status === 401 ? 'unauthorized' : 'forbidden',
      message: status === 401 ? 'the observer needs a token' : 'the observer is for administrators',
    });
  app.get('/observer', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      )
      .send(OBSERVER_PAGE),
  );
  app.get('/observer/state', async (request, reply) => {
    const status = allowed(request.headers.authorization);
    if (status !== undefined) return reply.code(status).type('application/json').send(refuse(status));
    return reply.type('application/json').send(JSON.stringify(await observer.snapshot()));
  });
  app.get('/observer/events', (request, reply) => {
    const status = allowed(request.headers.authorization);
    if (status !== undefined) return reply.code(status).type('application/json').send(refuse(status));
    if (streams.size >= DEFAULTS.maxObserverStreams) {
      return reply
        .code(503)
        .type('application/json')
        .send(JSON.stringify({ error: 'busy', message: 'too many observer streams' }));
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const push = async () => {
      if (closed) return;
      try {
        const data = JSON.stringify(await observer.snapshot());
        // A client that stopped reading holds at most one snapshot: skip until it drained.
        if (!closed && res.writableLength === 0) res.write(`event: snapshot\ndata: ${data}\n\n`);
      } catch (error) {
        if (!closed) res.write(`event: failure\ndata: ${JSON.stringify(String(error))}\n\n`);
      }
      if (!closed) timer = setTimeout(push, observer.intervalMs);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      streams.delete(close);
      clearTimeout(timer);
      res.end();
    };
    streams.add(close);
    request.raw.on('close', close);
    void push();
  });
}
