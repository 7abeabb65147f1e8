import tls from 'node:tls';
import { WebSocket } from 'ws';

const trusted = new Set<string>();
let patched = false;
/** One secure context with the system's roots and the trusted certificates, made once per change. */
let context: tls.SecureContext | undefined;

/**
 * Makes this process's TLS clients (`@xmpp/client`'s STARTTLS and direct TLS, `wss` through
 * `ws`) trust `pem` besides the system's roots: what a user does by accepting a self-signed
 * certificate's fingerprint. Tests only: it wraps `tls.connect` of the whole process, and only
 * for connections that name no `ca` of their own.
 */
export function trustCertificate(pem: string): void {
  if (!trusted.has(pem)) {
    trusted.add(pem);
    context = undefined;
  }
  if (patched) return;
  patched = true;
  const connect = tls.connect;
  const wrapped = (...args: unknown[]) => {
    const options = args[0] as { ca?: unknown; secureContext?: unknown } | null;
    if (
      typeof options === 'object' &&
      options !== null &&
      options.ca === undefined &&
      options.secureContext === undefined
    ) {
      // A shared context, as Node's default one: parsing the roots per connection costs milliseconds.
      context ??= tls.createSecureContext({ ca: [...tls.rootCertificates, ...trusted] });
      args[0] = { ...options, secureContext: context };
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
