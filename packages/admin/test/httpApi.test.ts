import { POLICY_TABLE } from '@otp-chat/event-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenApiDocument } from '../src/index.ts';
import { type AdminNode, post, TOKENS } from './support/adminNode.ts';
import { CALLERS, startTableNode, validArgs } from './support/commandArgs.ts';

let node: AdminNode;
let table: Awaited<ReturnType<typeof startTableNode>>;
beforeAll(async () => {
  table = await startTableNode();
  node = table.node;
});
afterAll(() => table?.stop());

describe('POST /api/<command>: every command × caller', () => {
  it('answers as the policy table says, for every registered command (latest version)', async () => {
    const names = [...new Set(node.xmpp.commands.list().map((c) => c.name))];
    expect(names.length).toBeGreaterThanOrEqual(20);
    const rows: string[] = [];
    let i = 0;
    for (const name of names) {
      const policy = node.xmpp.commands.get(name).policy;
      for (const { kind, token } of CALLERS) {
        i++;
        // A user's own-account command: the user passes no user/host (injected); others name alice.
        let args = validArgs(name, i);
        if (policy === 'user' && kind !== 'user') args = { ...args, user: 'alice', host: 'localhost' };
        const { status, json } = await post(node.admin.url, name, args, token);
        const admitted = POLICY_TABLE[policy].includes(kind);
        const expected = admitted ? 200 : kind === 'anonymous' ? 401 : 403;
        rows.push(`${name} ${policy} ${kind} ${status}`);
        expect(status, `${name} (${policy}) as ${kind}: ${JSON.stringify(json)}`).toBe(expected);
        if (admitted) expect(node.xmpp.commands.get(name).result.safeParse(json).success).toBe(true);
        else expect(json).toMatchObject({ error: kind === 'anonymous' ? 'unauthorized' : 'forbidden' });
      }
    }
    expect(rows.length).toBe(names.length * CALLERS.length);
  });

  it('injects the caller for a user command; another account is 403', async () => {
    expect(await post(node.admin.url, 'test_own', { suffix: '?' }, TOKENS.user)).toEqual({
      status: 200,
      json: 'alice@localhost?',
    });
    expect(
      (await post(node.admin.url, 'test_own', { user: 'bob', host: 'localhost' }, TOKENS.user)).status,
    ).toBe(403);
    // An admin names the account; without it the fields are named.
    const missing = await post(node.admin.url, 'test_own', {}, TOKENS.admin);
    expect(missing.status).toBe(400);
    expect((missing.json as { issues: { path: string }[] }).issues.map((x) => x.path).sort()).toEqual([
      'host',
      'user',
    ]);
  });

  it('runs an older version with ?version=', async () => {
    const v0 = await post(
      node.admin.url,
      'kick_user?version=0',
      { user: 'nobody', host: 'localhost' },
      TOKENS.local,
    );
    const v2 = await post(node.admin.url, 'kick_user', { user: 'nobody', host: 'localhost' }, TOKENS.local);
    expect(v0).toEqual({ status: 200, json: 0 });
    expect(v2).toEqual({ status: 200, json: { ok: 'Kicked sessions: 0' } });
    expect((await post(node.admin.url, 'kick_user?version=x', {}, TOKENS.local)).status).toBe(400);
  });
});

describe('tokens', () => {
  it.each([
    ['missing', undefined, 401],
    ['wrong', 'not-a-token-at-all-0000', 401],
    ['revoked', TOKENS.revoked, 401],
    ['another scheme', 'Basic', 401],
    ['valid', TOKENS.admin, 200],
  ] as const)('%s token → %i', async (_label, token, status) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token === 'Basic') headers.authorization = 'Basic YWRtaW46YWRtaW4=';
    else if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${node.admin.url}/api/connected_users_number`, {
      method: 'POST',
      headers,
      body: '{}',
    });
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    } else expect(await res.json()).toBe(1);
  });

  it('a token revoked while the server runs is refused from the next request', async () => {
    const token = 'temporary-token-0123456789';
    node.tokens.add(token, { kind: 'admin', user: 'tmp', host: 'localhost' });
    expect((await post(node.admin.url, 'connected_users', {}, token)).status).toBe(200);
    node.tokens.revoke(token);
    expect((await post(node.admin.url, 'connected_users', {}, token)).status).toBe(401);
  });

  it('an open command needs no token, but a wrong one is still 401', async () => {
    expect(await post(node.admin.url, 'test_open', {})).toEqual({ status: 200, json: 'pong' });
    expect((await post(node.admin.url, 'test_open', {}, 'wrong-token-0123456789')).status).toBe(401);
  });
});

describe('errors', () => {
  it('404 for an unknown command', async () => {
    const r = await post(node.admin.url, 'no_such_command', {}, TOKENS.local);
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: 'unknown_command' });
  });

  it('400 names each bad field', async () => {
    const r = await post(node.admin.url, 'user_resources', { user: 42 }, TOKENS.admin);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: 'invalid_arguments' });
    expect((r.json as { issues: { path: string }[] }).issues.map((x) => x.path).sort()).toEqual([
      'host',
      'user',
    ]);
  });

  it.each([
    ['not JSON', '{"user":'],
    ['an array', '[1,2]'],
    ['a string', '"alice"'],
    ['null', 'null'],
    ['__proto__', '{"__proto__":{"x":1}}'],
  ])('400 for a body that is %s', async (_label, body) => {
    const r = await post(node.admin.url, 'connected_users_number', body, TOKENS.admin);
    expect(r.status).toBe(400);
  });

  it('an empty body is no arguments', async () => {
    const res = await fetch(`${node.admin.url}/api/connected_users_number`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.admin}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toBe(1);
  });

  it('413 for a body over the limit', async () => {
    const r = await post(node.admin.url, 'test_open', { echo: 'x'.repeat(100_000) }, TOKENS.admin);
    expect(r.status).toBe(413);
  });
});

describe('GET /api', () => {
  it('is an OpenAPI 3.1 document of what the caller may run', async () => {
    const get = async (token?: string) => {
      const res = await fetch(`${node.admin.url}/api`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: res.status, doc: (await res.json()) as OpenApiDocument };
    };
    const local = await get(TOKENS.local);
    expect(local.status).toBe(200);
    expect(local.doc.openapi).toBe('3.1.0');
    const names = [...new Set(node.xmpp.commands.list().map((c) => c.name))];
    expect(Object.keys(local.doc.paths).sort()).toEqual(names.map((n) => `/api/${n}`).sort());
    const op = local.doc.paths['/api/user_resources']!.post;
    expect(op['x-policy']).toBe('admin');
    expect(op.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      properties: { user: { type: 'string', minLength: 1 }, host: { type: 'string', minLength: 1 } },
      required: ['user', 'host'],
    });
    expect(op.responses['200']).toMatchObject({
      content: { 'application/json': { schema: { type: 'array', items: { type: 'string' } } } },
    });
    const user = await get(TOKENS.user);
    expect(Object.keys(user.doc.paths).sort()).toEqual(['/api/test_open', '/api/test_own']);
    // A user does not pass user and host: they are injected.
    expect(
      user.doc.paths['/api/test_own']!.post.requestBody.content['application/json'].schema,
    ).not.toHaveProperty('properties.user');
    const anonymous = await get();
    expect(Object.keys(anonymous.doc.paths)).toEqual(['/api/test_open']);
    expect((await get('wrong-token-0123456789')).status).toBe(401);
  });
});

describe('listener', () => {
  it('binds loopback by default', () => {
    expect(node.admin.address.host).toBe('127.0.0.1');
  });
});
