// CI guard: the TypeScript in the READMEs compiles and runs. Every ```ts block of every README of the
// workspace says what it is in its info string:
//   ```ts runnable         typechecked, then run with node (tsx, sources) from the package's folder;
//   ```ts runnable redis   the same, with REDIS_URL pointing at a private Redis (skipped, loudly,
//                          without one; REQUIRE_REDIS=1 makes that a failure);
//   ```ts check            typechecked only (code that runs inside a test runner).
// A ```ts block with none of these fails the test: a snippet is either checked or not TypeScript.
// The blocks of one README are written to a scratch folder inside its package (so that the package
// resolves itself and its dependencies as its users' code would), typechecked together with the
// workspace's compiler options (sources through the @otp-chat/source condition, no build needed),
// and run one by one; the scratch folder is removed afterwards.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunRedisTests, startTestRedis, type TestRedis } from '@otp-chat/redis-backend/testing';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

type Kind = 'runnable' | 'runnable redis' | 'check';
interface Snippet {
  readonly readme: string;
  /** The line of the opening fence. */
  readonly line: number;
  readonly kind: Kind | undefined;
  readonly info: string;
  readonly code: string;
}

function snippetsOf(readme: string): Snippet[] {
  const lines = readFileSync(join(ROOT, readme), 'utf8').split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const info = open[2]!.trim();
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    const kind = (['runnable', 'runnable redis', 'check'] as const).find((k) => k === info);
    out.push({ readme, line: start + 1, kind, info, code: `${body.join('\n')}\n` });
  }
  return out;
}

const READMES = [
  'README.md',
  ...['packages', 'examples'].flatMap((group) =>
    readdirSync(join(ROOT, group))
      .filter((name) => existsSync(join(ROOT, group, name, 'README.md')))
      .map((name) => `${group}/${name}/README.md`),
  ),
];
const SNIPPETS = READMES.flatMap(snippetsOf);
const BY_README = [...new Set(SNIPPETS.map((s) => s.readme))].map(
  (readme) => [readme, SNIPPETS.filter((s) => s.readme === readme)] as const,
);

/** The workspace's compiler options for tests: tsconfig.test.json, read as tsc reads it. */
function compilerOptions(): ts.CompilerOptions {
  const path = join(ROOT, 'tsconfig.test.json');
  const { config } = ts.readConfigFile(path, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, path);
  const { tsBuildInfoFile: _buildInfo, ...options } = parsed.options;
  return { ...options, noEmit: true, incremental: false };
}

function typecheck(files: readonly string[]): string[] {
  const program = ts.createProgram(files, compilerOptions());
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || files.includes(d.file.fileName))
    .map((d) => {
      const where =
        d.file === undefined
          ? ''
          : `${relative(ROOT, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
}

function run(
  file: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@otp-chat/source', file], {
      cwd,
      env: { ...process.env, OTP_CHAT_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => {
      output += `\n(killed after ${RUN_TIMEOUT_MS} ms: the snippet did not end)`;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

let redis: TestRedis | undefined;
afterAll(async () => {
  await redis?.stop();
});

describe('README snippets', () => {
  it('every package README has a runnable snippet', () => {
    for (const dir of readdirSync(join(ROOT, 'packages'))) {
      const readme = `packages/${dir}/README.md`;
      if (!existsSync(join(ROOT, readme))) continue;
      expect(
        SNIPPETS.some((s) => s.readme === readme && s.kind?.startsWith('runnable')),
        `${readme} has no \`\`\`ts runnable block`,
      ).toBe(true);
    }
  });

  it('every ```ts block is marked runnable, runnable redis or check', () => {
    const unmarked = SNIPPETS.filter((s) => s.kind === undefined).map(
      (s) => `${s.readme}:${s.line}: \`\`\`ts ${s.info}`,
    );
    expect(unmarked).toEqual([]);
  });

  describe.each(BY_README)('%s', (readme, snippets) => {
    it(
      'its snippets typecheck, and the runnable ones run to the end without an error',
      async () => {
        const pkg = dirname(join(ROOT, readme));
        const scratch = mkdtempSync(join(pkg, '.readme-'));
        try {
          const files = snippets.map((s, i) => {
            const file = join(scratch, `snippet-${i + 1}-line-${s.line}.ts`);
            writeFileSync(file, s.code);
            return file;
          });
          expect(typecheck(files), `${readme}: type errors`).toEqual([]);
          for (let i = 0; i < snippets.length; i++) {
            const s = snippets[i]!;
            if (s.kind === 'check' || s.kind === undefined) continue;
            const env: NodeJS.ProcessEnv = {};
            if (s.kind === 'runnable redis') {
              if (!canRunRedisTests(`${readme}:${s.line} (a Redis snippet)`, 'server')) continue;
              redis ??= await startTestRedis();
              env.REDIS_URL = redis.url;
            }
            const { code, output } = await run(files[i]!, pkg, env);
            expect(code, `${readme}:${s.line} exited with ${code}:\n${output}`).toBe(0);
          }
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
      },
      4 * RUN_TIMEOUT_MS,
    );
  });
});
