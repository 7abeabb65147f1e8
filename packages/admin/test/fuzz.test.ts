import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminNode, post, startAdminNode, TOKENS } from './support/adminNode.ts';

let node: AdminNode;
beforeAll(async () => {
  node = await startAdminNode();
});
afterAll(async () => {
  await node?.stop();
});

/** Bodies near the schemas: the right keys with values of any JSON type, plus anything JSON. */
function bodies(keys: readonly string[]): fc.Arbitrary<string> {
  const near = fc
    .dictionary(fc.constantFrom(...keys, 'extra', '__proto__', 'constructor'), fc.jsonValue(), { maxKeys: 8 })
    .map((o) => JSON.stringify(o));
  const broken = fc.string({ maxLength: 40 }).map((s) => `{"user":${s}`);
  return fc.oneof(near, fc.json({ maxDepth: 3 }), broken, fc.string({ maxLength: 40 }));
}

describe('fuzzed JSON bodies', () => {
  it('every command answers 200 or a 4xx, never a 5xx', async () => {
    const commands = [...new Set(node.xmpp.commands.list().map((c) => c.name))];
    const keysOf = (name: string) => Object.keys(node.xmpp.commands.get(name).args.shape);
    const allKeys = [...new Set(commands.flatMap(keysOf))];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...commands),
        bodies(allKeys),
        fc.constantFrom(TOKENS.local, TOKENS.admin, TOKENS.user, undefined),
        async (command, body, token) => {
          const { status, json } = await post(node.admin.url, command, body, token);
          expect(status, `${command} ${body} → ${JSON.stringify(json)}`).toBeLessThan(500);
          expect([200, 400, 401, 403]).toContain(status);
          if (status !== 200)
            expect(json).toMatchObject({ error: expect.any(String), message: expect.any(String) });
        },
      ),
      { numRuns: 400 },
    );
  });
});
