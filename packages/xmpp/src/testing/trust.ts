import tls from 'node:tls';
import { WebSocket } from 'ws';

const trusted = new Set<string>();
let patched = false;

/**
 * Makes this process's TLS clients (`@xmpp/client`'s STARTTLS and direct TLS, `wss` through
 * `ws`) trust `pem` besides the system's roots: what a user does by accepting a self-signed
 * certificate's fingerprint. Tests only: it wraps `tls.connect` of the whole process, and only
 * for connections that name no `ca` of their own.
 */
export function trustCertificate(pem: string): void {
  trusted.add(pem);
  if (patched) return;
  patched = true;
  const connect = tls.connect;
  const wrapped = (...args: unknown[]) => {
    const options = args[0];
    if (typeof options === 'object' && options !== null && (options as { ca?: unknown }).ca === undefined) {
      args[0] = { ...options, ca: [...tls.rootCertificates, ...trusted] };
    }
    return (connect as (...a: unknown[]) => tls.TLSSocket)(...args);
  };
  tls.connect = wrapped as typeof tls.connect;
}

/**
 * `@xmpp/websocket` uses the global `WebSocket`, which Node 20 has only behind a flag: `ws`'s
 * (the same API) stands in for it.
 */
export function provideWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  g.WebSocket ??= WebSocket;
}
