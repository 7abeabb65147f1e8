// The layout every workspace package keeps so that the build, the checks and the release cover it
// without a list to update (CONTRIBUTING.md, "Adding a package"): one table row per package under
// packages/ and per example under examples/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Manifest {
  readonly name: string;
  readonly version?: string;
  readonly private?: boolean;
  readonly type?: string;
  readonly license?: string;
  readonly repository?: { readonly type: string; readonly url: string; readonly directory: string };
  readonly engines?: Record<string, string>;
  readonly sideEffects?: boolean;
  readonly files?: readonly string[];
  readonly publishConfig?: Record<string, string>;
  readonly exports?: Record<string, Record<string, string>>;
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
}
interface TsConfig {
  readonly extends?: string;
  readonly compilerOptions?: Record<string, unknown>;
  readonly files?: readonly string[];
  readonly publishConfig?: Record<string, string>;
  readonly references?: readonly { readonly path: string }[];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
/** tsconfig files allow comments and trailing commas. */
const readTsConfig = (path: string): TsConfig => {
  const { config, error } = ts.readConfigFile(path, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return config as TsConfig;
};
const dirsOf = (group: string) =>
  readdirSync(join(ROOT, group))
    .filter((name) => existsSync(join(ROOT, group, name, 'package.json')))
    .map((name) => `${group}/${name}`);

const PACKAGES = dirsOf('packages');
const EXAMPLES = dirsOf('examples');
const names = new Map(
  [...PACKAGES, ...EXAMPLES].map((dir) => [readJson<Manifest>(join(ROOT, dir, 'package.json')).name, dir]),
);
const rootManifest = readJson<Manifest>(join(ROOT, 'package.json'));

/** The workspace packages `dir` depends on (their folders from the root): what its tsconfig references. */
const expectedReferences = (manifest: Manifest): string[] =>
  Object.keys(manifest.dependencies ?? {})
    .filter((d) => names.has(d))
    .map((d) => names.get(d)!)
    .sort();
/** The folders, from the root, that the tsconfig.json of `dir` references. */
const referencesOf = (dir: string, config: TsConfig): string[] =>
  (config.references ?? []).map((r) => relative(ROOT, resolve(ROOT, dir, r.path))).sort();

describe('every package under packages/', () => {
  it('finds the packages', () => expect(PACKAGES.length).toBeGreaterThan(0));

  it.each(PACKAGES)('%s: publishable manifest', (dir) => {
    const m = readJson<Manifest>(join(ROOT, dir, 'package.json'));
    expect(m.name).toBe(`@otp-chat/${dir.split('/')[1]}`);
    expect(m.private).toBeUndefined();
    expect(m.type).toBe('module');
    expect(m.license).toBe('MIT');
    expect(m.repository).toEqual({ ...rootManifest.repository, directory: dir });
    expect(m.engines).toEqual(rootManifest.engines);
    expect(m.sideEffects).toBe(false);
    expect(m.files).toEqual(['dist', 'src', '!dist/tsconfig.tsbuildinfo', 'CHANGELOG.md']);
    expect(m.publishConfig).toEqual({ access: 'public' });
    expect(Object.keys(m.exports ?? {})).toContain('.');
    for (const [subpath, conditions] of Object.entries(m.exports ?? {})) {
      // ./x -> src/x/index.ts, dist/x/index.{d.ts,js}; "." -> src/index.ts, dist/index.*
      const stem = subpath === '.' ? 'index' : `${subpath.slice(2)}/index`;
      expect(conditions, `exports["${subpath}"]`).toEqual({
        '@otp-chat/source': `./src/${stem}.ts`,
        types: `./dist/${stem}.d.ts`,
        import: `./dist/${stem}.js`,
      });
      expect(Object.keys(conditions)[0], 'the source condition comes first').toBe('@otp-chat/source');
      expect(existsSync(join(ROOT, dir, 'src', `${stem}.ts`)), `src/${stem}.ts`).toBe(true);
    }
    expect(existsSync(join(ROOT, dir, 'README.md')), 'README.md').toBe(true);
    expect(readFileSync(join(ROOT, dir, 'CHANGELOG.md'), 'utf8').split('\n')[0]).toBe(`# ${m.name}`);
  });

  it.each(PACKAGES)('%s: tsconfig.json builds src to dist, test/tsconfig.json checks the tests', (dir) => {
    const m = readJson<Manifest>(join(ROOT, dir, 'package.json'));
    const build = readTsConfig(join(ROOT, dir, 'tsconfig.json'));
    expect(build.extends).toBe('../../tsconfig.build.json');
    expect(build.compilerOptions).toBeUndefined();
    expect(referencesOf(dir, build)).toEqual(expectedReferences(m));
    expect(readTsConfig(join(ROOT, dir, 'test', 'tsconfig.json'))).toEqual({
      extends: '../../../tsconfig.test.json',
      files: ['../src/index.ts'],
      references: [{ path: '..' }],
    });
  });
});

describe('every example under examples/', () => {
  it.each(EXAMPLES)('%s: private, built to dist, started from the build, dev from sources', (dir) => {
    const m = readJson<Manifest>(join(ROOT, dir, 'package.json'));
    expect(m.private).toBe(true);
    expect(m.scripts).toMatchObject({
      build: 'tsc -b',
      start: 'tsc -b && node dist/main.js',
      dev: 'tsx --conditions=@otp-chat/source src/main.ts',
    });
    const build = readTsConfig(join(ROOT, dir, 'tsconfig.json'));
    expect(build.extends).toBe('../../tsconfig.build.json');
    expect(referencesOf(dir, build)).toEqual(expectedReferences(m));
    expect(readTsConfig(join(ROOT, dir, 'test', 'tsconfig.json'))).toEqual({
      extends: '../../../tsconfig.test.json',
      references: [{ path: '..' }],
    });
  });
});
