// CI guard: no import cycle at run time. Every source file of every package and example is parsed
// by dpdm with its type-only imports dropped (what tsc erases, as verbatimModuleSyntax keeps them
// apart), and no cycle may remain. Type-only cycles (SessionManager.ts ↔ commands.ts, a class and
// the interface that names it) are harmless and allowed. A self-test on a scratch folder checks
// that the guard sees a runtime cycle and lets a type-only one pass.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// dpdm's ESM build imports extensionless paths that Node cannot load: its CommonJS build instead.
const { parseCircular, parseDependencyTree } = createRequire(import.meta.url)(
  'dpdm',
) as typeof import('dpdm');

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The runtime import cycles among `globs` (relative to `cwd`), each as its files joined by → . */
async function runtimeCycles(globs: string[], cwd: string): Promise<string[]> {
  const tree = await parseDependencyTree(globs, {
    cwd,
    transform: true, // drop type-only imports: the graph Node loads
    exclude: /node_modules|\/dist\//,
    skipDynamicImports: false,
  });
  return parseCircular(tree).map((cycle) => cycle.join(' → '));
}

describe('import cycles at run time', () => {
  it('none in the sources of the packages and examples', async () => {
    const cycles = await runtimeCycles(['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'], ROOT);
    expect(cycles).toEqual([]);
  }, 60_000);

  it('the check sees a runtime cycle and lets a type-only one pass (self-test)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otp-chat-cycles-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import { b } from './b.ts';\nexport const a = () => b();\n");
      writeFileSync(join(dir, 'b.ts'), "import { a } from './a.ts';\nexport const b = () => a;\n");
      writeFileSync(join(dir, 'c.ts'), "import type { D } from './d.ts';\nexport interface C { d?: D }\n");
      writeFileSync(join(dir, 'd.ts'), "import type { C } from './c.ts';\nexport interface D { c?: C }\n");
      const cycles = await runtimeCycles(['*.ts'], dir);
      expect(cycles).toHaveLength(1);
      expect(cycles[0]).toMatch(/a\.ts → b\.ts|b\.ts → a\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
