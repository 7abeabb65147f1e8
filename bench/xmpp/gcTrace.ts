// Sums a V8 `--trace-gc` log (stdin) by kind of collection: count, total and longest pause, so that
// two runs differing only in their load (K=10 and K=20 messages per session: 100k more routed
// messages at N=10k) give the collections per 10k messages by difference. Used as:
//
//   WORKERS=1 EJABBERD=0 ROUNDS=1 WARMUP=0 K=10 XMPP_NODE_FLAGS=--trace-gc \
//     npx tsx bench/xmpp/main.ts 2>&1 | npx tsx bench/xmpp/gcTrace.ts
//
// A line reads `[pid:isolate]  1234 ms: Scavenge 10.5 (12.3) -> 9.8 (13.3) MB, 1.23 / 0.00 ms …`.
import { createInterface } from 'node:readline';

const LINE =
  /\d+ ms: (Scavenge|Mark-Compact(?: \(reduce\))?|Minor Mark-Compact)\b[^,]*, ([\d.]+) \/ ([\d.]+) ms/;

const kinds = new Map<string, { count: number; totalMs: number; maxMs: number }>();
for await (const line of createInterface({ input: process.stdin })) {
  const m = LINE.exec(line);
  if (m === null) continue;
  const kind = m[1]!;
  const pause = Number(m[2]);
  const k = kinds.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
  k.count++;
  k.totalMs += pause;
  k.maxMs = Math.max(k.maxMs, pause);
  kinds.set(kind, k);
}
for (const [kind, k] of kinds) {
  process.stdout.write(
    `${kind.padEnd(22)} ${String(k.count).padStart(6)} pauses, ${k.totalMs.toFixed(1).padStart(8)} ms in all, longest ${k.maxMs.toFixed(1)} ms\n`,
  );
}
