/**
 * Compares two strings as Erlang compares the UTF-8 binaries ejabberd stores: byte-wise, which for
 * UTF-8 is code point order. JavaScript's `<` compares UTF-16 code units, which differs only when a
 * surrogate (an astral character) meets a code unit in U+E000..U+FFFF; the common case is one loop.
 * Negative when `a` sorts first.
 */
export function compareBinary(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only a surrogate against a code unit ≥ U+E000 orders differently by code point.
    if (x >= 0xd800 && y >= 0xd800) {
      const xs = x <= 0xdfff;
      const ys = y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
    }
    return x - y;
  }
  return a.length - b.length;
}
