// CI guard: every citation in the repository can be followed from the repository. A "§" must name
// what it is a section of (an RFC, a XEP, XML 1.0) on its own line, and nothing may point at the
// behaviour documents that are not kept here ("spec §", "anchors §", reference/*.md). Cite ejabberd
// and OTP by function name (`ejabberd_sm:route/1`, `supervisor:add_restart/1`) and issues as
// owner/repo#n.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The files git tracks (sources, tests, READMEs, scripts), but not changelogs, lockfiles or data. */
const FILES = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => /\.(ts|mjs|cjs|js|md|py|json|jsonc)$/.test(f))
  // Not changelogs, nor this file, which names what it forbids.
  .filter((f) => !/(^|\/)CHANGELOG\.md$/.test(f) && f !== 'test/citations.test.ts');

/** A section sign preceded, on its line, by what it is a section of. */
const NAMED_SECTION = /(RFC ?\d+|XEP-\d+|XML 1\.0)[^§\n]*§/g;

describe('citations a reader of the repository can follow', () => {
  it('no § without the RFC, XEP or XML 1.0 it belongs to, on the same line', () => {
    const bad: string[] = [];
    for (const file of FILES) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A named citation may list several sections after its name (RFC 3454 §3, §4 and §7).
          if (line.includes('§') && line.match(NAMED_SECTION) === null)
            bad.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(bad).toEqual([]);
  });

  it('nothing points at documents that are not in the repository', () => {
    const outside =
      /\bspec §|\banchors §|ejabberd-sm-spec\.md|otp-and-actor-anchors|xmpp-clients-servers-jid-redis|seed-ejabberd-session-manager|\breference\/[\w-]+\.md/;
    const bad: string[] = [];
    for (const file of FILES) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (outside.test(line)) bad.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(bad).toEqual([]);
  });
});
