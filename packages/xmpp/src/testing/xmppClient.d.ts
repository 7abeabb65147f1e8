// Minimal typings for @xmpp/client 0.14 (it ships none), as used by the tests, example and bench.
declare module '@xmpp/client' {
  import type { Element } from '@xmpp/xml';
  export interface XmppClient {
    start(): Promise<{ toString(): string }>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    on(event: 'stanza' | 'element' | 'nonza', listener: (element: Element) => void): void;
    on(event: 'error', listener: (error: Error & { condition?: string; text?: string }) => void): void;
    on(
      event: 'offline' | 'online' | 'status' | 'send' | 'disconnect',
      listener: (...args: unknown[]) => void,
    ): void;
    readonly reconnect: { stop(): void };
    readonly iqCaller: { request(element: Element, timeoutMs?: number): Promise<Element> };
    readonly jid: { toString(): string } | null;
    readonly status: string;
  }
  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    timeout?: number;
    credentials?: (
      authenticate: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>,
      mechanisms: string[],
    ) => Promise<void>;
  }
  export function client(options: ClientOptions): XmppClient;
  export function xml(...args: Parameters<typeof import('@xmpp/xml').default>): Element;
}
