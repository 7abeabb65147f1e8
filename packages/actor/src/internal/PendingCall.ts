import type { ActorRef } from '../ActorRef.ts';
import type { ExitReason } from '../ExitReason.ts';
import { CallTimeoutError, ExitError } from '../errors.ts';
import type { Deadlines } from './Deadlines.ts';

/**
 * One outstanding `call`: the caller's promise, its deadline, and its place in the server's list of
 * unanswered calls (an intrusive doubly linked list, so adding and removing allocate nothing).
 * It is also the `From` handed to `handleCall`. Once `done`, every later reply is dropped, which is
 * what OTP 24's process aliases give `gen_server:call`.
 */
export class PendingCall {
  done = false;
  deadline = Number.POSITIVE_INFINITY;
  prev: PendingCall | null = null;
  next: PendingCall | null = null;
  /** The list this call is on (the server's), so that it can unlink itself. */
  owner: CallList | null = null;
  /** The deadline set tracking this call (none for `Infinity`); told when the call is done. */
  deadlines: Deadlines | null = null;

  constructor(
    readonly target: ActorRef,
    readonly request: unknown,
    readonly timeoutMs: number,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Answers the caller; a no-op once the call is done. */
  settle(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.owner?.remove(this);
    this.deadlines?.release();
    this.resolve(value);
  }

  /** The deadline passed. */
  expire(): void {
    if (this.done) return;
    this.done = true;
    this.owner?.remove(this);
    this.deadlines?.release();
    this.reject(new CallTimeoutError(this.target, this.timeoutMs));
  }

  /** The server ended before answering. */
  fail(reason: ExitReason): void {
    if (this.done) return;
    this.done = true;
    this.deadlines?.release();
    this.reject(new ExitError(this.target, reason));
  }
}

/** The calls a server has received and not yet answered. */
export class CallList {
  private head: PendingCall | null = null;

  add(call: PendingCall): void {
    call.owner = this;
    call.next = this.head;
    if (this.head) this.head.prev = call;
    this.head = call;
  }

  remove(call: PendingCall): void {
    if (call.prev) call.prev.next = call.next;
    else this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    call.prev = call.next = null;
    call.owner = null;
  }

  /** Fails every call still waiting (the server ended). */
  failAll(reason: ExitReason): void {
    let call = this.head;
    this.head = null;
    while (call) {
      const next = call.next;
      call.prev = call.next = null;
      call.owner = null;
      call.fail(reason);
      call = next;
    }
  }
}
