import type { Element } from '@xmpp/xml';
import { provideWebSocket } from './trust.ts';
import { client, type XmppClient } from './xmppClient.ts';

/**
 * How a test client reaches the server: `xmpp` is TCP (STARTTLS when the server offers it),
 * `xmpps` direct TLS (XEP-0368), `ws` and `wss` RFC 7395 at `path`.
 */
export type ClientTransport = 'xmpp' | 'xmpps' | 'ws' | 'wss';

/** Options of {@link connectClient}. */
export interface ConnectClientOptions {
  readonly port: number;
  /** @default 'xmpp' */
  readonly transport?: ClientTransport;
  /** The WebSocket endpoint. @default '/xmpp-websocket' */
  readonly path?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 'localhost' */
  readonly domain?: string;
  readonly username: string;
  readonly password: string;
  /** Omit to let the server generate one. */
  readonly resource?: string;
  /**
   * `'PLAIN'` passes `credentials` as a function choosing PLAIN (plain TCP, see the reference);
   * `'default'` lets `@xmpp/client` choose, which on plain TCP is SCRAM-SHA-1.
   * @default 'PLAIN'
   */
  readonly mechanism?: 'PLAIN' | 'default';
  /** @xmpp/client's IQ and connection timeout. @default 5000 */
  readonly timeoutMs?: number;
  /**
   * TCP_NODELAY on the client's socket (TCP and TLS): a load driver's, so that Nagle's algorithm
   * and the server's delayed ACKs do not add 40 ms to the round trips of a TLS handshake.
   * @default false (as @xmpp/client)
   */
  readonly noDelay?: boolean;
}

/** A stream error the server sent before closing. */
export interface ReceivedStreamError {
  readonly condition: string;
  readonly text: string | undefined;
}

/** A logged-in `@xmpp/client` with what it received, for tests, the example and the benchmark. */
export interface TestClient {
  readonly xmpp: XmppClient;
  /** The bound full JID. */
  readonly jid: string;
  /** Every stanza received, in order. */
  readonly stanzas: Element[];
  /** Stream errors received (`<stream:error>`). */
  readonly streamErrors: ReceivedStreamError[];
  /** Resolves with the next received stanza (already received ones included) matching `match`. */
  waitFor(match: (stanza: Element) => boolean, timeoutMs?: number): Promise<Element>;
  /** Calls `listener` for every stanza received from now on. */
  onStanza(listener: (stanza: Element) => void): void;
  /** Resolves when the server closed the stream or the socket. */
  readonly offline: Promise<void>;
  send(stanza: Element): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Logs in with `@xmpp/client` (`xmpp://host:port` unless another transport is named),
 * auto-reconnect off, and records what arrives. Rejects when the login fails. Over TLS, the
 * server's certificate must be trusted (`trustCertificate` for a test certificate).
 */
export async function connectClient(options: ConnectClientOptions): Promise<TestClient> {
  const { username, password } = options;
  const transport = options.transport ?? 'xmpp';
  if (transport === 'ws' || transport === 'wss') provideWebSocket();
  const path = transport === 'ws' || transport === 'wss' ? (options.path ?? '/xmpp-websocket') : '';
  const xmpp = client({
    service: `${transport}://${options.host ?? '127.0.0.1'}:${options.port}${path}`,
    domain: options.domain ?? 'localhost',
    ...(options.resource === undefined ? {} : { resource: options.resource }),
    username,
    password,
    timeout: options.timeoutMs ?? 5000,
    ...(options.mechanism === 'default'
      ? {}
      : { credentials: (authenticate) => authenticate({ username, password }, 'PLAIN') }),
  });
  xmpp.reconnect.stop();
  if (options.noDelay === true && (transport === 'xmpp' || transport === 'xmpps')) {
    const entity = xmpp as unknown as { socketParameters(service: string): object };
    const parameters = entity.socketParameters.bind(entity);
    entity.socketParameters = (service) => ({ ...parameters(service), noDelay: true });
  }
  const stanzas: Element[] = [];
  const streamErrors: ReceivedStreamError[] = [];
  const waiters: Array<{ match: (s: Element) => boolean; resolve: (s: Element) => void }> = [];
  let setOffline: () => void = () => {};
  const offline = new Promise<void>((resolve) => {
    setOffline = resolve;
  });
  xmpp.on('error', () => {});
  xmpp.on('offline', () => setOffline());
  xmpp.on('disconnect', () => setOffline());
  xmpp.on('element', (element) => {
    if (element.is('error', 'http://etherx.jabber.org/streams')) {
      const condition = element.children.find(
        (c): c is Element => typeof c !== 'string' && c.name !== 'text',
      );
      streamErrors.push({
        condition: condition?.name ?? '',
        text: element.getChildText('text') ?? undefined,
      });
    }
  });
  xmpp.on('stanza', (stanza) => {
    stanzas.push(stanza);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.match(stanza)) {
        waiters.splice(i, 1);
        w.resolve(stanza);
      }
    }
  });
  const address = await xmpp.start();
  return {
    xmpp,
    jid: address.toString(),
    stanzas,
    streamErrors,
    offline,
    waitFor(match, timeoutMs = 5000) {
      const seen = stanzas.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<Element>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching stanza within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
        });
      });
    },
    onStanza: (listener) => xmpp.on('stanza', listener),
    send: (stanza) => xmpp.send(stanza),
    async stop() {
      if (xmpp.status === 'offline' || xmpp.status === 'disconnect') return;
      try {
        await xmpp.stop();
      } catch {
        // already closed by the server
      }
    },
  };
}
