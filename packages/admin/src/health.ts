import type { FastifyInstance } from 'fastify';

/** One thing `/readyz` needs reachable: a backend, the cluster. Resolves true when it is. */
export interface ReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<boolean> | boolean;
}

/** The answer of `/readyz`: each check's outcome (`ok`, `failed`, `timeout`) and why. */
export interface Readiness {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly checks: Readonly<Record<string, { readonly ok: boolean; readonly error?: string }>>;
}

/** Runs every check at once, each bounded by `timeoutMs` (a frozen backend is "not ready", not a hung probe). */
export async function readiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  draining: boolean,
): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, { ok: boolean; error?: string }]> => {
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      try {
        const ok = await Promise.race([
          Promise.resolve().then(() => c.check(controller.signal)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, ok ? { ok: true } : { ok: false, error: 'not reachable' }];
      } catch (error) {
        return [c.name, { ok: false, error: error instanceof Error ? error.message : String(error) }];
      } finally {
        clearTimeout(timer);
        controller.abort();
      }
    }),
  );
  const ready = !draining && results.every(([, r]) => r.ok);
  return { ready, draining, checks: Object.fromEntries(results) };
}

/**
 * `/healthz`: the process answers (liveness; 200 while draining too, so that an orchestrator does
 * not kill a node that is stopping in order). `/readyz`: 200 when every check passes, else 503
 * (a draining node is not ready: a load balancer stops sending it clients).
 */
export function registerHealth(
  app: FastifyInstance,
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  isDraining: () => boolean,
): void {
  app.get('/healthz', async (_request, reply) => reply.send({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const r = await readiness(checks, timeoutMs, isDraining());
    return reply.code(r.ready ? 200 : 503).send(r);
  });
}
