import type { C2SEvent, StreamErrorInfo } from '../c2sMachine.ts';

/**
 * Why a stream ended, in `ejabberd_c2s:format_reason/2`'s words (with `xmpp_stream_in:format_error/1`),
 * the status text of `close_session_unset_presence`: the client's `</stream:stream>` is
 * "Stream reset by peer", a lost socket "Connection failed: connection closed", a stream error this
 * side sent "Stream closed by local host: <text> (<condition>)", a supervisor's shut-down
 * "stopped by supervisor".
 */
export function closeReason(
  event: C2SEvent['type'],
  sent: StreamErrorInfo | undefined,
  bySupervisor: boolean,
): string {
  if (bySupervisor) return 'stopped by supervisor';
  if (event === 'STREAM_END') return 'Stream reset by peer';
  if (event === 'SOCKET_CLOSED') return 'Connection failed: connection closed';
  if (sent !== undefined) {
    const text = sent.text === undefined || sent.text === '' ? '' : `${sent.text} (${sent.condition})`;
    return `Stream closed by local host: ${text === '' ? sent.condition : text}`;
  }
  return 'unknown reason';
}
