import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POLICY_TABLE } from '@otp-chat/event-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, type OpenApiDocument, runCtl } from '../src/index.ts';
import { type AdminNode, TOKENS } from './support/adminNode.ts';
import { CALLERS, startTableNode, validArgs } from './support/commandArgs.ts';

let node: AdminNode;
let table: Awaited<ReturnType<typeof startTableNode>>;
beforeAll(async () => {
  table = await startTableNode();
  node = table.node;
});
afterAll(() => table?.stop());

/** Runs the CLI in process with `env`; its exit code and what it printed. */
async function ctl(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCtl(['--url', node.admin.url, ...argv], {
    env: { HOME: '/nonexistent', ...env },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readFile: () => {
      throw new Error('no such file');
    },
  });
  return { code, stdout, stderr };
}

describe('otp-chat-ctl: every command × caller', () => {
  it('exits as the policy table says, with positional arguments in schema order', async () => {
    const local = (await (
      await fetch(`${node.admin.url}/api`, { headers: { authorization: `Bearer ${TOKENS.local}` } })
    ).json()) as OpenApiDocument;
    let i = 1000;
    let rows = 0;
    for (const { post: op } of Object.values(local.paths)) {
      const name = op.operationId;
      const policy = node.xmpp.commands.get(name).policy;
      for (const { kind, token } of CALLERS) {
        i++;
        const args: Record<string, unknown> = { ...validArgs(name, i) };
        if (policy === 'user' && kind !== 'user') Object.assign(args, { user: 'alice', host: 'localhost' });
        const order = Object.keys(
          (op.requestBody.content['application/json'].schema.properties ?? {}) as object,
        );
        const positional = order.filter(
          (k) => !(policy === 'user' && kind === 'user' && (k === 'user' || k === 'host')),
        );
        const argv = [name, ...positional.filter((k) => k in args).map((k) => String(args[k]))];
        const r = await ctl(['--json', ...argv], token === undefined ? {} : { OTP_CHAT_ADMIN_TOKEN: token });
        const admitted = POLICY_TABLE[policy].includes(kind);
        expect(r.code, `${argv.join(' ')} as ${kind}: ${r.stderr}`).toBe(
          admitted ? EXIT.ok : EXIT.unauthorized,
        );
        if (admitted)
          expect(node.xmpp.commands.get(name).result.safeParse(JSON.parse(r.stdout)).success).toBe(true);
        rows++;
      }
    }
    expect(rows).toBeGreaterThanOrEqual(20 * CALLERS.length);
  });

  it('prints text by default, JSON with --json', async () => {
    const env = { OTP_CHAT_ADMIN_TOKEN: TOKENS.local };
    expect(await ctl(['connected_users'], env)).toEqual({
      code: 0,
      stdout: 'alice@localhost/desk\n',
      stderr: '',
    });
    expect(await ctl(['--json', 'connected_users_number'], env)).toEqual({
      code: 0,
      stdout: '1\n',
      stderr: '',
    });
    const status = await ctl(['status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^node\tadmin-test@local\nstate\tstarted\n/);
    const nodes = await ctl(['--json', 'nodes'], env);
    expect(JSON.parse(nodes.stdout)).toEqual([{ node: 'admin-test@local', up: true, self: true }]);
  });

  it('--help of a command comes from its spec', async () => {
    const r = await ctl(['user_resources', '--help'], { OTP_CHAT_ADMIN_TOKEN: TOKENS.admin });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("List user's connected resources");
    expect(r.stdout).toMatch(/Usage: otp-chat-ctl user_resources \[options\] <user> <host>/);
    expect(r.stdout).toContain('policy: admin');
    const top = await ctl(['--help'], { OTP_CHAT_ADMIN_TOKEN: TOKENS.admin });
    expect(top.stdout).toContain('connected_users_number');
    expect(top.stdout).not.toContain('kick_session'); // restricted: not for an admin token
  });

  const USAGE_ROWS: readonly [label: string, argv: readonly string[], code: number, token: string][] = [
    ['no command', [], EXIT.usage, TOKENS.admin],
    ['unknown command', ['no_such_command'], EXIT.usage, TOKENS.admin],
    ['missing argument', ['user_resources', 'alice'], EXIT.usage, TOKENS.admin],
    ['too many arguments', ['connected_users', 'x'], EXIT.usage, TOKENS.admin],
    ['not a number', ['resource_num', 'alice', 'localhost', 'one'], EXIT.usage, TOKENS.local],
    [
      'restricted for an admin',
      ['--json', 'num_resources', 'alice', 'localhost'],
      EXIT.unauthorized,
      TOKENS.admin,
    ],
    ['a bad argument', ['user_resources', 'alice', ''], EXIT.usage, TOKENS.admin],
    ['admin for a user', ['connected_users'], EXIT.unauthorized, TOKENS.user],
  ];
  it.each(USAGE_ROWS)('%s → exit %d', async (_label, argv, code, token) => {
    const r = await ctl([...argv], { OTP_CHAT_ADMIN_TOKEN: token });
    expect(r.code, r.stderr).toBe(code);
  });

  it.each([
    ['missing', {}],
    ['wrong', { OTP_CHAT_ADMIN_TOKEN: 'wrong-token-0123456789' }],
    ['revoked', { OTP_CHAT_ADMIN_TOKEN: TOKENS.revoked }],
  ])('%s token → exit 4 and says why', async (_label, env) => {
    const r = await ctl(['connected_users_number'], env);
    expect(r.code).toBe(EXIT.unauthorized);
    expect(r.stderr).toMatch(/token/);
  });

  it('an unreachable node → exit 3; --help still shows the options', async () => {
    const run = async (argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCtl(['--url', 'http://127.0.0.1:1', ...argv], {
        env: { OTP_CHAT_ADMIN_TOKEN: TOKENS.admin },
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
        readFile: () => '',
      });
      return { code, stdout, stderr };
    };
    const status = await run(['status']);
    expect(status.code).toBe(EXIT.unreachable);
    expect(status.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:1/);
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.unreachable);
    expect(help.stdout).toContain('--token-file');
  });

  it('the binary reads the token from a file and exits with the code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otp-chat-ctl-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKENS.local}\n`, { mode: 0o600 });
    const main = join(import.meta.dirname, '../src/cli/main.ts');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', main, '--url', node.admin.url, ...args], {
          env: { ...process.env, OTP_CHAT_ADMIN_TOKEN: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.on('close', (code) => resolve({ code, out }));
      });
    expect(await run(['--token-file', file, 'connected_users_number'])).toEqual({ code: 0, out: '1\n' });
    expect((await run(['connected_users_number'])).code).toBe(EXIT.unauthorized);
  });
});
