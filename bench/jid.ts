// bench/jid: parse + prepare of typical ASCII full JIDs (the `to` and `from` of every routed
// stanza), cold (no cache) and cached, against @xmpp/jid's parse, which only splits and lowercases.
// Run: pnpm bench:jid

import { configureJidCache, DEFAULTS, parseJid } from '@otp-chat/jid';
import { figure, header, type Measurement, measure, ratio, table } from './lib.ts';

// @xmpp/jid ships no type declarations: import it untyped and state the little used here.
const xmppJidModule: string = '@xmpp/jid';
const { parse: xmppParse } = (await import(xmppJidModule)) as {
  parse: (s: string) => { local: string; domain: string; resource: string };
};

// A working set of distinct, typical full JIDs (mixed case, as clients send them), well under
// DEFAULTS.cacheSize so that the cached case measures hits.
const N = 2_000;
const ascii: string[] = Array.from(
  { length: N },
  (_, i) => `User${i}.Name@${i % 3 === 0 ? 'Example.COM' : 'chat.example.org'}/Laptop-${(i * 7919) % 10_000}`,
);
const unicode: string[] = Array.from({ length: N }, (_, i) => `Fußball${i}@Bücher.example/Téléphone-${i}`);

let sink = 0;
// Only the parse is timed: one field read keeps the result alive (no toString, whose cost differs).
function run(parse: (s: string) => { domain: string }, inputs: readonly string[]) {
  return (ops: number) => {
    for (let i = 0; i < ops; i++) sink += parse(inputs[i % inputs.length]!).domain.length;
  };
}

header('jid: parse + prepare');
const OPS = 200_000;
const rows: Measurement[] = [];

const xmpp = await measure('@xmpp/jid parse (no prep)', { ops: OPS }, run(xmppParse, ascii));
rows.push(xmpp);

configureJidCache({ size: 0 });
const cold = await measure('otp-chat parseJid ASCII, cold', { ops: OPS }, run(parseJid, ascii));
rows.push(cold);
const coldUnicode = await measure(
  'otp-chat parseJid non-ASCII, cold',
  { ops: OPS / 10 },
  run(parseJid, unicode),
);
rows.push(coldUnicode);

configureJidCache({ size: DEFAULTS.cacheSize });
const cached = await measure('otp-chat parseJid ASCII, cached', { ops: OPS }, run(parseJid, ascii));
rows.push(cached);
const cachedUnicode = await measure(
  'otp-chat parseJid non-ASCII, cached',
  { ops: OPS },
  run(parseJid, unicode),
);
rows.push(cachedUnicode);

table(rows);
if (sink === 0) process.stdout.write('(sink)\n');
ratio('vs-xmpp-jid', cached.opsPerSec / xmpp.opsPerSec);
figure('jid-parse-ascii-cold', cold.opsPerSec, 'ops/s');
figure('jid-parse-ascii-cached', cached.opsPerSec, 'ops/s');
figure('jid-parse-unicode-cold', coldUnicode.opsPerSec, 'ops/s');
