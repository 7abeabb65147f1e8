/**
 * Reads `read()` until `done` holds for its value (turn by turn, then every millisecond), at most
 * `timeoutMs` of real time; fails naming `what` and the last value otherwise, so that a regression
 * is a message rather than a hang until the test's timeout. Returns the last value read. For what
 * real I/O (sockets, Redis, child processes) makes true; actors on a simulated clock need `flush`.
 *
 * ```ts
 * await eventually('bob to be gone', () => sm.userResources('bob', 'localhost'), (r) => r.length === 0);
 * ```
 */
export async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let turn = 0; ; turn++) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: still not true after ${timeoutMs} ms (last value: ${describe(value)})`);
    }
    await new Promise<void>((resolve) => (turn < 100 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
