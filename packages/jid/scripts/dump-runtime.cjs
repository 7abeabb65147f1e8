// Helper of generate-unicode32.py: dumps, for every Unicode scalar value, what this package uses at
// run time: membership in stanza's RFC 3454 tables, stanza's B.2 case folding, and this Node
// runtime's NFKC. Output: JSON on stdout. Read-only; nothing here ships in the package.
'use strict';
const sp = require('stanza/lib/stringprep/index.js');

const names = ['A1', 'B1', 'C11', 'C12', 'C21', 'C22', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8', 'C9', 'D1', 'D2'];
const tables = {};
for (const name of names) {
  const members = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) if (sp[name].contains(cp)) members.push(cp);
  tables[name] = members;
}
const b2 = {};
const nfkc = {};
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (sp.B2.hasMapping(cp)) {
    const m = sp.B2.map(cp);
    b2[cp] = m == null ? [] : Array.isArray(m) ? m : [m];
  }
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const s = String.fromCodePoint(cp);
  const n = s.normalize('NFKC');
  if (n !== s) nfkc[cp] = Array.from(n, (c) => c.codePointAt(0));
}
process.stdout.write(
  JSON.stringify({ node: process.version, unicode: process.versions.unicode, tables, b2, nfkc }),
);
