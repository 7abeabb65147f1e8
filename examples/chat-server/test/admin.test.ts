import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { canRunRedisTests, startTestRedis, uniquePrefix } from '@otp-chat/redis-backend/testing';
import { canRunPostgresTests, startTestPostgres } from '@otp-chat/sql-backend/testing';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config.ts';
import { startChatServer } from '../src/startChatServer.ts';
import { ChatNode } from './support/ChatNode.ts';
import './support/trustCertificate.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = 'chat-admin-test-token-0123456789';

afterAll(() => ChatNode.stopAll());

/** The admin URL a node printed in its banner. */
async function adminUrlOf(node: ChatNode): Promise<string> {
  return eventually(
    'the admin line of the banner',
    () => /admin: (http:\/\/[\d.]+:\d+)\/api/.exec(node.output.join(''))?.[1],
    (url) => url !== undefined,
    10_000,
  ) as Promise<string>;
}

/** `npx pnpm@10.34.8 ctl …` as the root package.json defines it, run with sh from the repository root. */
function ctlScript(
  args: string[],
  env: Record<string, string | undefined> = { OTP_CHAT_ADMIN_TOKEN: TOKEN },
): Promise<{ code: number | null; out: string }> {
  const script = (
    JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: { ctl: string } }
  ).scripts.ctl;
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `${script} "$@"`, 'ctl', ...args], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PATH: `${REPO_ROOT}node_modules/.bin:${process.env.PATH}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('chat-server admin surface', () => {
  it('serves the API, the ctl script, metrics and health; SIGTERM drains 200 sessions', async () => {
    const node = await ChatNode.start([
      '--admin-port',
      '0',
      '--admin-token',
      TOKEN,
      '--max-user-sessions',
      'infinity',
    ]);
    const url = await adminUrlOf(node);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(node.output.join('')).not.toContain(TOKEN); // a given token is not printed
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const status = await ctlScript(['--url', url, '--json', 'status']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out.slice(status.out.indexOf('{')))).toMatchObject({
      node: node.node,
      state: 'started',
    });

    const clients: TestClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const opened = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const user = (batch * 20 + i) % 2 === 0 ? 'alice' : 'bob';
          return connectClient({
            port: node.port,
            username: user,
            password: user,
            resource: `r${batch}-${i}`,
          });
        }),
      );
      clients.push(...opened);
    }
    expect(clients.length).toBe(200);
    expect(await metric(url, 'otp_chat_sessions')).toBe(200);
    const count = await fetch(`${url}/api/connected_users_number`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await count.json()).toBe(200);

    node.proc.kill('SIGTERM');
    // Every stream ends with system-shutdown, and the process exits 0 (its stop bound exits 1).
    expect(await node.exited).toBe(0);
    await Promise.all(clients.map((c) => c.offline));
    const conditions = clients.map((c) => c.streamErrors[0]?.condition);
    expect(conditions.filter((c) => c === 'system-shutdown').length).toBe(200);
    expect(node.output.join('')).toContain('SIGTERM: draining');
  }, 120_000);

  it('generates, prints and writes a token when given none; the ctl script finds it; it is gone after stop', async () => {
    const home = mkdtempSync(join(tmpdir(), 'otp-chat-home-'));
    const node = await ChatNode.start(['--admin-port', '0'], {
      env: { HOME: home, OTP_CHAT_ADMIN_TOKEN: undefined },
    });
    const url = await adminUrlOf(node);
    const port = Number(new URL(url).port);
    const file = join(home, '.otp-chat', `admin-${port}.token`);
    const banner = await eventually(
      'the generated token in the banner',
      () => node.output.join(''),
      (out) => out.includes('admin token (generated'),
    );
    const token = readFileSync(file, 'utf8').trim();
    expect(banner).toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const status = await ctlScript(['--url', url, 'status'], { HOME: home, OTP_CHAT_ADMIN_TOKEN: undefined });
    expect(status.code).toBe(0);
    expect(status.out).toContain(`node\t${node.node}`);
    await node.stop();
    expect(existsSync(file)).toBe(false);
  }, 60_000);

  it('an --admin-port that is taken is an error naming the flag', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(ChatNode.start(['--admin-port', String(port)])).rejects.toThrow(
        new RegExp(
          `cannot listen for the admin API on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\).*--admin-port`,
        ),
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  }, 60_000);
});

describe.skipIf(!canRunRedisTests('chat-server: /readyz on Redis'))('chat-server: /readyz on Redis', () => {
  it('checks Redis and the cluster; a Redis that is gone makes the node not ready', async () => {
    const redis = await startTestRedis();
    const server = await startChatServer(
      { ...DEFAULT_CONFIG, port: 0, backend: 'redis', redisUrl: redis.url, adminPort: 0, adminToken: TOKEN },
      { logger: silentLogger, redisPrefix: uniquePrefix('chat-readyz') },
    );
    try {
      const url = server.admin!.url;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        ready: true,
        draining: false,
        checks: { session_manager: { ok: true }, redis: { ok: true }, cluster: { ok: true } },
      });
      await redis.stop();
      const down = await eventually(
        'readyz without Redis',
        async () => {
          const r = await fetch(`${url}/readyz`);
          return { status: r.status, body: (await r.json()) as { checks: Record<string, { ok: boolean }> } };
        },
        (r) => r.status === 503,
        15_000,
      );
      expect(down.body.checks.redis!.ok).toBe(false);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
      await redis.stop();
    }
  }, 60_000);
});

describe.runIf(canRunPostgresTests('chat-server: /readyz on PostgreSQL'))(
  'chat-server: /readyz on PostgreSQL',
  () => {
    it('checks PostgreSQL with select 1, and times its calls', async () => {
      const pg = await startTestPostgres();
      try {
        const server = await startChatServer(
          {
            ...DEFAULT_CONFIG,
            port: 0,
            backend: 'postgres',
            postgresUrl: pg.url,
            adminPort: 0,
            adminToken: TOKEN,
          },
          { logger: silentLogger },
        );
        try {
          const url = server.admin!.url;
          const ready = await fetch(`${url}/readyz`);
          expect(await ready.json()).toEqual({
            ready: true,
            draining: false,
            checks: { session_manager: { ok: true }, postgres: { ok: true } },
          });
          const alice = await connectClient({
            port: server.address.port,
            username: 'alice',
            password: 'alice',
          });
          await alice.stop();
          const text = await (await fetch(`${url}/metrics`)).text();
          expect(text).toMatch(
            /otp_chat_backend_call_duration_seconds_count\{backend="sql",operation="setSession",ok="true"\} [1-9]/,
          );
        } finally {
          await server.stop();
        }
      } finally {
        await pg.stop();
      }
    }, 120_000);
  },
);
