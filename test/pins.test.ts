// Packages whose internals otp-chat uses are pinned to one exact version: a new version is a
// deliberate change, checked against what is used, never something a lockfile refresh brings in.
// This test fails, naming the package, when a manifest gives a range or another version, when the
// installed version is not the pinned one, or when a source file reaches into a package (a deep
// import such as `pkg/lib/x.js`) that is not pinned here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Each pinned package, its version, and what of it is used beyond its public entry points. */
const PINS: Readonly<Record<string, { readonly version: string; readonly why: string }>> = {
  stanza: {
    version: '12.22.1',
    why: "@otp-chat/jid imports stanza/lib/stringprep/index.js (its RFC 3454 tables and profile functions), a path stanza's entry point does not export",
  },
  punycode: {
    version: '2.3.1',
    why: "@otp-chat/jid imports punycode/punycode.js, the file (Node's builtin punycode is deprecated)",
  },
  'converse.js': {
    version: '14.0.0',
    why: "examples/web-chat serves converse.js/dist/* (converse.min.js and the assets it loads from there) and its Chromium test drives converse's DOM (the login form's ids, the contacts dropdown, the new-chat modal), none of which converse promises",
  },
  xstate: {
    version: '5.33.3',
    why: '@otp-chat/xmpp steps the c2s machine with machine.transition(snapshot, event, scope) and getInitialSnapshot(scope, input) on a hand-built AnyActorScope (internal/machineStep.ts), whose shape xstate does not promise',
  },
};

interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** Every workspace folder with a manifest: the root, packages/*, examples/*, bench. */
const WORKSPACES = [
  '.',
  ...['packages', 'examples'].flatMap((group) =>
    readdirSync(join(ROOT, group))
      .filter((name) => existsSync(join(ROOT, group, name, 'package.json')))
      .map((name) => `${group}/${name}`),
  ),
  'bench',
];

/** `[workspace, package, range]` for every dependency on a pinned package. */
const uses = WORKSPACES.flatMap((dir) => {
  const m = readJson<Manifest>(join(ROOT, dir, 'package.json'));
  return [m.dependencies, m.devDependencies, m.peerDependencies].flatMap((deps) =>
    Object.entries(deps ?? {})
      .filter(([name]) => name in PINS)
      .map(([name, range]) => [dir, name, range] as const),
  );
});

/** The version installed for `dir` (pnpm links each dependency into the package's node_modules). */
function installed(dir: string, name: string): string | undefined {
  const path = join(ROOT, dir, 'node_modules', name, 'package.json');
  return existsSync(path) ? readJson<{ version: string }>(path).version : undefined;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('pinned packages (their internals are used)', () => {
  it('each pin is used by some workspace', () => {
    for (const name of Object.keys(PINS)) {
      expect(
        uses.some(([, n]) => n === name),
        `${name} is pinned but no manifest uses it`,
      ).toBe(true);
    }
  });

  it.each(uses)('%s: %s is the pinned version exactly', (dir, name, range) => {
    const pin = PINS[name]!;
    if (range !== pin.version) {
      throw new Error(
        `${name}: ${dir}/package.json asks for "${range}", but ${name} is pinned to "${pin.version}" ` +
          `(${pin.why}). Give the exact version; to move the pin, check that use against the new ` +
          'version and change it in test/pins.test.ts and every manifest.',
      );
    }
    const version = installed(dir, name);
    if (version !== pin.version) {
      throw new Error(
        `${name}: ${version ?? 'nothing'} is installed for ${dir}, but ${name} is pinned to ` +
          `${pin.version} (${pin.why}). Run pnpm install; to move the pin, check that use first.`,
      );
    }
  });

  it('no source file reaches into a package that is not pinned', () => {
    const deep = /\bfrom '((?:@[^/'.][^/']*\/)?[^/'.@][^/']*)\/[^']+'/g;
    const offenders: string[] = [];
    for (const group of ['packages', 'examples']) {
      for (const dir of readdirSync(join(ROOT, group))) {
        const src = join(ROOT, group, dir, 'src');
        if (!existsSync(src)) continue;
        for (const file of sourceFiles(src)) {
          for (const match of readFileSync(file, 'utf8').matchAll(deep)) {
            const name = match[1]!;
            if (name.startsWith('@otp-chat/') || name.startsWith('node:') || name in PINS) continue;
            offenders.push(`${relative(ROOT, file)}: ${match[0]}`);
          }
        }
      }
    }
    expect(offenders, 'deep imports of packages that are not pinned in test/pins.test.ts').toEqual([]);
  });
});
