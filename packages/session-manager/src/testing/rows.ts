import { ActorRef, type MaybePromise } from '@otp-chat/actor';
import type { CleanNodeResult } from '../Backend.ts';
import { type Priority, Session, type SessionInfo } from '../Session.ts';
import { Sid } from '../Sid.ts';

/**
 * An `ActorRef` for tests and backend suites, without an `ActorSystem` (as a remote pid would be).
 * Not for production code: refs come from `ActorSystem.spawn`.
 */
export function fakeRef(node: string, id: number): ActorRef {
  return new ActorRef(node, id);
}

/** Options of {@link makeRow}. */
export interface MakeRowOptions {
  readonly priority?: Priority;
  readonly info?: SessionInfo;
  /** @default 'node1' */
  readonly node?: string;
  /** Wall-clock seconds of the sid. @default 1_700_000_000 */
  readonly time?: number;
}

/** A session row whose sid orders by `counter` (same time, same node); the ref id is `counter` too. */
export function makeRow(
  luser: string,
  lserver: string,
  lresource: string,
  counter: number,
  options: MakeRowOptions = {},
): Session {
  const node = options.node ?? 'node1';
  const sid = new Sid(options.time ?? 1_700_000_000, counter, node, fakeRef(node, counter));
  return new Session(sid, luser, lserver, lresource, options.priority, options.info);
}

/**
 * Every row a `cleanNode` answer removed, whichever form it takes (rows, a promise of them, or an
 * async iterable of batches, consumed to the end).
 */
export async function cleanedRows(result: CleanNodeResult): Promise<Session[]> {
  if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result) {
    const out: Session[] = [];
    for await (const batch of result as AsyncIterable<readonly Session[]>) out.push(...batch);
    return out;
  }
  return [...(await (result as MaybePromise<readonly Session[]>))];
}
