// The mailbox ring buffer (src/internal/Mailbox.ts): FIFO across growth and wrap-around, and
// removeFirst (used by demonitor with flush) against an array as the reference.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../src/internal/Mailbox.ts';

type Op =
  | { readonly op: 'push'; readonly kind: number; readonly item: number }
  | { readonly op: 'shift' }
  | { readonly op: 'remove'; readonly item: number };

function contents(box: Mailbox): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  box.forEach((kind, item) => {
    out.push([kind, item]);
  });
  return out;
}

describe('Mailbox', () => {
  it('removeFirst removes only the first match and keeps the order, after wrap-around', () => {
    const box = new Mailbox();
    for (let i = 0; i < 3; i++) box.push(0, i);
    box.shiftItem();
    box.shiftItem(); // head moved: the next pushes wrap around the ring
    for (let i = 3; i < 7; i++) box.push(i % 2, i);
    box.removeFirst((kind, item) => kind === 1 && (item as number) > 3);
    expect(contents(box)).toEqual([
      [0, 2],
      [1, 3],
      [0, 4],
      [0, 6],
    ]);
    box.removeFirst(() => false);
    expect(box.length).toBe(4);
    expect(box.peekKind()).toBe(0);
    expect(box.shiftItem()).toBe(2);
  });

  it('behaves as an array of [kind, item] under random push / shift / removeFirst (property)', () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ op: fc.constant('push' as const), kind: fc.nat(4), item: fc.nat(20) }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('shift' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), item: fc.nat(5) }) },
    );
    let removals = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200, size: 'max' }), (ops) => {
        const box = new Mailbox();
        const ref: Array<[number, unknown]> = [];
        for (const o of ops) {
          if (o.op === 'push') {
            box.push(o.kind, o.item);
            ref.push([o.kind, o.item]);
          } else if (o.op === 'shift') {
            if (ref.length === 0) continue;
            expect(box.peekKind()).toBe(ref[0]![0]);
            expect(box.shiftItem()).toBe(ref.shift()![1]);
          } else {
            const at = ref.findIndex(([, item]) => item === o.item);
            if (at >= 0) {
              ref.splice(at, 1);
              removals++;
            }
            box.removeFirst((_kind, item) => item === o.item);
          }
          expect(box.length).toBe(ref.length);
        }
        expect(contents(box)).toEqual(ref);
      }),
      { numRuns: 300 },
    );
    expect(removals, 'removeFirst found too few matches to mean anything').toBeGreaterThan(1000);
  });
});
