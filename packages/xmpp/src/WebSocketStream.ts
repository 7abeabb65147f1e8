import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import type { C2SSocket } from './C2SSocket.ts';
import { fromFrame, isFramingElement, toFrames } from './internal/framing.ts';

/** WebSocket close codes (RFC 6455 §7.4.1). */
const NORMAL = 1000;
const UNSUPPORTED_DATA = 1003;

/**
 * A WebSocket (RFC 7395) as the byte stream a connection reads and writes: each text message
 * in becomes stream XML (`<open/>` a stream header, `<close/>` the stream end), what the
 * connection writes goes out one element per message. A binary message is not XMPP: the
 * socket closes with 1003. Backpressure both ways: reading pauses the WebSocket while the
 * connection does not take data, and a write completes when the socket took it.
 */
export class WebSocketStream extends Duplex implements C2SSocket {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly tlsSocket: TLSSocket | undefined;
  /** Messages received in this tick, handed on together (one read, as TCP gives many stanzas). */
  private inbound: Buffer[] = [];

  constructor(
    private readonly ws: WebSocket,
    /** The socket under the WebSocket: its address, its TLS session, and corked around a batch of sends. */
    private readonly transport: Duplex & {
      readonly remoteAddress?: string | undefined;
      readonly remotePort?: number | undefined;
    },
  ) {
    super({ decodeStrings: false, allowHalfOpen: false });
    this.remoteAddress = transport.remoteAddress;
    this.remotePort = transport.remotePort;
    this.tlsSocket = transport instanceof TLSSocket ? transport : undefined;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        ws.close(UNSUPPORTED_DATA, 'XMPP over WebSocket is text (RFC 7395 §3.2)');
        this.destroy();
        return;
      }
      this.inbound.push(isFramingElement(data) ? Buffer.from(fromFrame(data.toString('utf8'))) : data);
      if (this.inbound.length === 1) process.nextTick(this.handOn);
    });
    ws.on('close', () => {
      this.handOn();
      this.push(null);
      this.destroy();
    });
    ws.on('error', (error) => this.destroy(error));
  }

  private readonly handOn = (): void => {
    const inbound = this.inbound;
    this.inbound = [];
    if (inbound.length === 0 || this.destroyed) return;
    if (!this.push(inbound.length === 1 ? inbound[0]! : Buffer.concat(inbound))) this.ws.pause();
  };

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const frames = toFrames(chunk);
    if (frames.length === 0) {
      callback();
      return;
    }
    const last = frames.length - 1;
    // One system call for the batch, as the connection's one write per tick on TCP.
    this.transport.cork();
    for (let i = 0; i < last; i++) this.ws.send(frames[i]!);
    this.ws.send(frames[last]!, (error) => callback(error ?? null));
    this.transport.uncork();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ws.close(NORMAL);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.ws.terminate();
    callback(error);
  }
}
