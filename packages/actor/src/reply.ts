import type { From } from './GenServer.ts';
import type { PendingCall } from './internal/PendingCall.ts';

/**
 * `gen_server:reply/2`: answers a call whose `handleCall` returned `{ noreply: true, state }`.
 * Safe to call from anywhere, at any time; a second reply, or one after the caller timed out, is
 * dropped.
 */
export function reply<R>(from: From<R>, value: R): void {
  (from as unknown as PendingCall).settle(value);
}
