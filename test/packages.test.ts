// The packages as a Node project outside this workspace sees them. Every package under packages/
// that is not private is packed with `pnpm pack` (what `pnpm publish` would upload), and each
// tarball is checked with publint and @arethetypeswrong/cli; then the tarballs are installed with
// npm into a scratch project in os.tmpdir(), where test/consumer/consumer.mjs runs with plain `node`
// and test/consumer/consumer.ts is typechecked under moduleResolution node16 and bundler.
// Needs the build (`pnpm test` and `pnpm test:packages` build first); npm needs the public registry
// for the packages' own dependencies (its cache is preferred).
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONSUMER = join(ROOT, 'test', 'consumer');
const require = createRequire(join(ROOT, 'package.json'));

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly packageManager?: string;
}
interface Workspace {
  readonly dir: string;
  readonly manifest: Manifest;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** Every publishable package: packages/* with a package.json that is not private. */
const PACKAGES: Workspace[] = readdirSync(join(ROOT, 'packages'))
  .map((name) => join(ROOT, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: readManifest(dir) }))
  .filter((p) => p.manifest.private !== true);

/**
 * The environment of the tools run here: none of the variables a package manager sets for the
 * script that runs the tests (npm would read `npm_config_local_prefix` as this workspace), and no
 * NODE_OPTIONS (vitest.config.ts adds the workspace's source condition there).
 */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(npm_(package|lifecycle|command|execpath|node_execpath)|npm_config_(local_prefix|user_agent|prefix|global_prefix)|pnpm_|INIT_CWD$|NODE_OPTIONS$)/i.test(
          k,
        ),
    ),
  );

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
/** Runs a command to its end (bounded by `timeoutMs`); never rejects, the caller checks `code`. */
const run = (file: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({
          code,
          stdout,
          stderr: error !== null && code === 1 ? `${stderr}\n${error.message}` : stderr,
        });
      },
    );
  });
const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => '\n',
};
const explain = (r: Run) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** pnpm as `pnpm test` runs it, else the version the root manifest pins, through npx. */
function pnpmCommand(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /pnpm\.c?js$/.test(execPath)) return [process.execPath, [execPath]];
  const pinned = readManifest(ROOT).packageManager ?? 'pnpm';
  return ['npx', ['--yes', pinned]];
}

/** A bin script of a devDependency of the workspace root, run with this Node. */
function binOf(pkg: string, bin: string): string {
  const manifestPath = require.resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: string | Record<string, string> };
  const rel = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[bin];
  if (rel === undefined) throw new Error(`${pkg} has no bin ${bin}`);
  return join(manifestPath, '..', rel);
}

/** At most `limit` of `tasks` at once (the machine has two cores). */
function limited<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T>[] {
  let active = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    active--;
    queue.shift()?.();
  };
  return tasks.map(
    (task) =>
      new Promise<T>((resolve, reject) => {
        const start = () => {
          active++;
          task().then(resolve, reject).finally(next);
        };
        if (active < limit) start();
        else queue.push(start);
      }),
  );
}

let scratch = '';
const tarballs = new Map<string, string>();
/** The paths in each tarball. */
const contents = new Map<string, string[]>();
let attw = new Map<string, Promise<Run>>();
let app = '';
/** npm install into the scratch project, started as soon as the tarballs exist (beside attw). */
let installed: Promise<void> = Promise.resolve();

/** The scratch project: the tarballs as dependencies, test/consumer/* beside them, npm install. */
async function install(): Promise<void> {
  app = join(scratch, 'app');
  mkdirSync(app);
  const root = readManifest(ROOT) as Manifest & { devDependencies: Record<string, string> };
  const dependencies = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'otp-chat-consumer',
      private: true,
      type: 'module',
      dependencies,
      devDependencies: { '@types/node': root.devDependencies['@types/node'] },
    }),
  );
  for (const file of readdirSync(CONSUMER)) copyFileSync(join(CONSUMER, file), join(app, file));
  const result = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'],
    app,
  );
  if (result.code !== 0) throw new Error(`npm install failed: ${explain(result)}`);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'otp-chat-consumer-'));
  const packDir = join(scratch, 'tarballs');
  mkdirSync(packDir);
  // The build is incremental: up to date after `pnpm test`'s typecheck, a no-op costing ~1 s.
  const build = await run(
    process.execPath,
    [binOf('typescript', 'tsc'), '-b', ...PACKAGES.map((p) => p.dir)],
    ROOT,
  );
  if (build.code !== 0) throw new Error(`tsc -b failed: ${explain(build)}`);
  const [pnpm, pnpmArgs] = pnpmCommand();
  const filters = PACKAGES.flatMap((p) => ['--filter', p.manifest.name]);
  const pack = await run(
    pnpm,
    [...pnpmArgs, '-r', ...filters, 'pack', '--pack-destination', packDir, '--json'],
    ROOT,
  );
  if (pack.code !== 0) throw new Error(`pnpm pack failed: ${explain(pack)}`);
  const packed = JSON.parse(pack.stdout) as Array<{ name: string; filename: string }>;
  for (const { name, filename } of packed) {
    tarballs.set(name, filename);
    // What the tarball holds (pnpm's list leaves out the LICENSE it copies from the root).
    const list = await run('tar', ['-tzf', filename], scratch);
    if (list.code !== 0) throw new Error(`tar -tzf ${filename}: ${explain(list)}`);
    contents.set(
      name,
      list.stdout
        .split('\n')
        .filter(Boolean)
        .map((p) => p.replace(/^package\//, '')),
    );
  }
  // attw loads its own TypeScript per run (~1.5 s of CPU each): two at a time, started now.
  const attwBin = binOf('@arethetypeswrong/cli', 'attw');
  const names = [...tarballs.keys()];
  const runs = limited(
    2,
    names.map(
      (name) => () =>
        run(
          process.execPath,
          [attwBin, tarballs.get(name)!, '--profile', 'esm-only', '--format', 'ascii'],
          scratch,
        ),
    ),
  );
  attw = new Map(names.map((name, i) => [name, runs[i]!]));
  installed = install();
  installed.catch(() => {}); // reported by the consumer tests' beforeAll
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([...attw.values(), installed]);
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

describe('every package, packed', () => {
  it('packs every publishable package under packages/', () => {
    expect(PACKAGES.length).toBeGreaterThan(0);
    expect([...tarballs.keys()].sort()).toEqual(PACKAGES.map((p) => p.manifest.name).sort());
  });

  it.each(PACKAGES.map((p) => p.manifest.name))(
    '%s: the tarball holds dist/, src/, the README, CHANGELOG and LICENSE, nothing else',
    (name) => {
      const paths = contents.get(name)!;
      expect(paths.filter((p) => !/^(dist|src)\//.test(p)).sort()).toEqual([
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'package.json',
      ]);
      expect(paths).toContain('dist/index.js');
      expect(paths).toContain('dist/index.d.ts');
      expect(paths).toContain('dist/index.js.map');
      expect(paths).toContain('dist/index.d.ts.map');
      expect(paths.filter((p) => p.endsWith('.tsbuildinfo'))).toEqual([]);
    },
  );

  it.each(PACKAGES.map((p) => p.manifest.name))('%s: publint (strict) has nothing to say', async (name) => {
    const tarball = readFileSync(tarballs.get(name)!);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  it.each(PACKAGES.map((p) => p.manifest.name))(
    '%s: @arethetypeswrong/cli (profile esm-only) finds no problem',
    async (name) => {
      const result = await attw.get(name)!;
      expect(result.code, explain(result)).toBe(0);
    },
    // attw runs two at a time beside npm install: on a loaded 2-core machine one package can wait
    // well past the default test timeout for its turn.
    120_000,
  );
});

describe('a Node project that installs the tarballs with npm', () => {
  beforeAll(() => installed, 180_000);

  it('runs consumer.mjs with plain node: an application, a session manager, two sessions, one message', async () => {
    const result = await run(process.execPath, ['consumer.mjs'], app, 30_000);
    expect(result.code, explain(result)).toBe(0);
    const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(out).toEqual({
      children: ['session_manager'],
      users: ['alice@example.com/laptop', 'bob@example.com/phone'],
      body: 'hi bob',
      from: 'alice@example.com/laptop',
      to: 'bob@example.com/phone',
      alive: false,
      loaded: [
        'function',
        'function',
        'function',
        'function',
        'function',
        'function',
        'function',
        'function',
        'function',
      ],
      resolved: expect.stringMatching(/\/node_modules\/@otp-chat\/session-manager\/dist\/index\.js$/),
    });
    // The installed package is the tarball (no symlink into this workspace).
    expect(out.resolved).not.toContain(ROOT);
  });

  it.each(['node16', 'bundler'])(
    'typechecks consumer.ts under moduleResolution %s, and every @otp-chat .d.ts it loads',
    (resolution) => {
      // The consumer's tsconfig skips third-party declarations (skipLibCheck, as most projects do);
      // ours are checked file by file here, so a declaration that does not resolve (a missing
      // @types dependency would make its types `any` under skipLibCheck) is an error.
      const parsed = ts.getParsedCommandLineOfConfigFile(
        join(app, `tsconfig.${resolution}.json`),
        undefined,
        {
          ...ts.sys,
          onUnRecoverableConfigFileDiagnostic: (d) => {
            throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
          },
        },
      )!;
      const program = ts.createProgram({
        rootNames: parsed.fileNames,
        options: { ...parsed.options, skipLibCheck: false },
      });
      const ours = program
        .getSourceFiles()
        .filter(
          (f) => f.fileName.includes('/node_modules/@otp-chat/') || !f.fileName.includes('/node_modules/'),
        );
      expect(ours.filter((f) => f.isDeclarationFile).length).toBeGreaterThan(PACKAGES.length);
      const diagnostics = [
        ...parsed.errors,
        ...program.getOptionsDiagnostics(),
        ...program.getGlobalDiagnostics(),
        ...ours.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
      ];
      expect(ts.formatDiagnostics(diagnostics, formatHost).split('\n').filter(Boolean)).toEqual([]);
    },
  );
});
