// The part of @xmpp/client 0.14 (it ships no types) that connectClient uses, typed here as this
// module's own exports so that the published .d.ts of `@otp-chat/xmpp/testing` needs no ambient
// `declare module` (tsc does not copy hand-written .d.ts files into dist).
// @ts-expect-error: @xmpp/client has no declarations (TS7016); `client` below gives the import its type.
import { client as untypedClient } from '@xmpp/client';
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

/** `@xmpp/client`'s `client(options)`. */
export const client: (options: ClientOptions) => XmppClient = untypedClient;
