import type { TLSSocket } from 'node:tls';

/**
 * The byte stream one connection reads and writes: what `C2SConnection` needs of a transport.
 * A `net.Socket` (plain TCP, before STARTTLS) and a `tls.TLSSocket` (direct TLS, after STARTTLS)
 * are ones as they are; a WebSocket is adapted by `WebSocketStream` (RFC 7395 framing in, out).
 * The connection actor and its machine never know which: one copy of the c2s logic.
 */
export interface C2SSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /** The TLS session under this stream, if any (channel binding, the session's `conn`). */
  readonly tlsSocket?: TLSSocket | undefined;
  readonly writableNeedDrain: boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
  on(event: 'data', listener: (data: Buffer) => void): this;
  on(event: 'drain' | 'close', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  off(event: 'data', listener: (data: Buffer) => void): this;
  off(event: 'drain' | 'close', listener: () => void): this;
  pause(): unknown;
  resume(): unknown;
  write(data: string, callback?: (error?: Error | null) => void): boolean;
  end(data: string): unknown;
  destroy(): unknown;
}
