import { ActorRef, type CodecRegistry, type DistSignal, type ExitReason, type Wire } from '@otp-chat/actor';

// Signals on the wire: compact tuples. A ref of the sending node is its id, a ref of the
// receiving node too (every signal's refs are on one side or the other); payloads and reasons are
// the codec registry's wire trees. The numbers are part of the stream format: never reuse one.
const SEND = 0;
const CAST = 1;
const CALL = 2;
const REPLY = 3;
const CALL_FAILED = 4;
const MONITOR = 5;
const DEMONITOR = 6;
const DOWN = 7;
const LINK = 8;
const UNLINK = 9;
const EXIT = 10;

/** One signal as written into a batch. */
export type WireSignal = readonly Wire[];

/**
 * Encodes a signal for `node`. Payloads (`send`, `cast`, `call`, `reply`) go through the codecs and
 * throw `UnencodableMessageError`; exit reasons never fail (`encodeReason`).
 */
export function encodeSignal(codecs: CodecRegistry, s: DistSignal): WireSignal {
  switch (s.type) {
    case 'send':
      return [SEND, s.to.id, codecs.encode(s.message)];
    case 'cast':
      return [CAST, s.to.id, codecs.encode(s.message)];
    case 'call':
      return [CALL, s.callId, s.to.id, codecs.encode(s.request)];
    case 'reply':
      return [REPLY, s.callId, codecs.encode(s.value)];
    case 'callFailed': {
      const f = s.failure;
      const failure: Wire =
        f.kind === 'exit'
          ? { kind: 'exit', reason: codecs.encodeReason(f.reason) }
          : f.kind === 'badreply'
            ? { kind: 'badreply', path: f.path, detail: f.detail }
            : { kind: 'noproc' };
      return [CALL_FAILED, s.callId, failure];
    }
    case 'monitor':
      return [MONITOR, s.watcher.id, s.target.id, s.monitorId];
    case 'demonitor':
      return [DEMONITOR, s.watcher.id, s.target.id, s.monitorId];
    case 'down':
      return [DOWN, s.watcher.id, s.monitorId, s.target.id, codecs.encodeReason(s.reason)];
    case 'link':
      return [LINK, s.from.id, s.to.id];
    case 'unlink':
      return [UNLINK, s.from.id, s.to.id];
    case 'exit':
      return [
        EXIT,
        s.from === undefined ? null : s.from.id,
        s.to.id,
        codecs.encodeReason(s.reason),
        s.link ? 1 : 0,
      ];
  }
}

/** Decodes a signal `from` sent `to` (this node); throws on a malformed one (the caller skips it). */
export function decodeSignal(
  codecs: CodecRegistry,
  w: readonly unknown[],
  from: string,
  to: string,
): DistSignal {
  // No closures here: this runs once per signal received.
  switch (w[0]) {
    case SEND:
      return { type: 'send', to: new ActorRef(to, w[1] as number), message: codecs.decode(w[2]) };
    case CAST:
      return { type: 'cast', to: new ActorRef(to, w[1] as number), message: codecs.decode(w[2]) };
    case CALL:
      return {
        type: 'call',
        callId: w[1] as number,
        to: new ActorRef(to, w[2] as number),
        request: codecs.decode(w[3]),
      };
    case REPLY:
      return { type: 'reply', callId: w[1] as number, value: codecs.decode(w[2]) };
    case CALL_FAILED: {
      const f = w[2] as { kind: string; reason?: unknown; path?: string; detail?: string };
      const failure =
        f.kind === 'exit'
          ? ({ kind: 'exit', reason: codecs.decode(f.reason) as ExitReason } as const)
          : f.kind === 'badreply'
            ? ({ kind: 'badreply', path: String(f.path), detail: String(f.detail) } as const)
            : ({ kind: 'noproc' } as const);
      return { type: 'callFailed', callId: w[1] as number, failure };
    }
    case MONITOR:
    case DEMONITOR:
      return {
        type: w[0] === MONITOR ? 'monitor' : 'demonitor',
        watcher: new ActorRef(from, w[1] as number),
        target: new ActorRef(to, w[2] as number),
        monitorId: w[3] as number,
      };
    case DOWN:
      return {
        type: 'down',
        watcher: new ActorRef(to, w[1] as number),
        monitorId: w[2] as number,
        target: new ActorRef(from, w[3] as number),
        reason: codecs.decode(w[4]) as ExitReason,
      };
    case LINK:
    case UNLINK:
      return {
        type: w[0] === LINK ? 'link' : 'unlink',
        from: new ActorRef(from, w[1] as number),
        to: new ActorRef(to, w[2] as number),
      };
    case EXIT:
      return {
        type: 'exit',
        from: w[1] === null ? undefined : new ActorRef(from, w[1] as number),
        to: new ActorRef(to, w[2] as number),
        reason: codecs.decode(w[3]) as ExitReason,
        link: w[4] === 1,
      };
    default:
      throw new Error(`unknown signal ${String(w[0])}`);
  }
}
