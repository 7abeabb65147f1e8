/**
 * An actor's mailbox: a growable ring buffer of (kind, item) pairs stored flat in one array, so a
 * message costs no envelope object and draining never shrinks or copies an array.
 */
export class Mailbox {
  // Most actors hold a message or two at a time: start with room for two and double as needed.
  private buffer: unknown[] = [0, undefined, 0, undefined];
  /** Capacity in entries minus one (capacity is a power of two). */
  private mask = 1;
  private head = 0;
  length = 0;

  push(kind: number, item: unknown): void {
    if (this.length > this.mask) this.grow();
    const slot = ((this.head + this.length) & this.mask) << 1;
    this.buffer[slot] = kind;
    this.buffer[slot + 1] = item;
    this.length++;
  }

  /** Kind of the oldest entry; call only when `length > 0`, then `shiftItem`. */
  peekKind(): number {
    return this.buffer[this.head << 1] as number;
  }

  /** Removes the oldest entry and returns its item. */
  shiftItem(): unknown {
    const slot = this.head << 1;
    const item = this.buffer[slot + 1];
    this.buffer[slot + 1] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length--;
    return item;
  }

  /** Calls `fn` on every entry, oldest first, without removing them. */
  forEach(fn: (kind: number, item: unknown) => void): void {
    for (let i = 0; i < this.length; i++) {
      const slot = ((this.head + i) & this.mask) << 1;
      fn(this.buffer[slot] as number, this.buffer[slot + 1]);
    }
  }

  /** Removes the first entry for which `match` is true (used by `demonitor` with `flush`). */
  removeFirst(match: (kind: number, item: unknown) => boolean): void {
    const entries: Array<[number, unknown]> = [];
    let removed = false;
    while (this.length > 0) {
      const kind = this.peekKind();
      const item = this.shiftItem();
      if (!removed && match(kind, item)) removed = true;
      else entries.push([kind, item]);
    }
    for (const [kind, item] of entries) this.push(kind, item);
  }

  private grow(): void {
    const capacity = this.mask + 1;
    const next = new Array<unknown>(capacity * 4);
    for (let i = 0; i < this.length; i++) {
      const from = ((this.head + i) & this.mask) << 1;
      next[i << 1] = this.buffer[from];
      next[(i << 1) + 1] = this.buffer[from + 1];
    }
    this.buffer = next;
    this.mask = capacity * 2 - 1;
    this.head = 0;
  }
}
