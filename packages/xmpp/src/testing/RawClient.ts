import { connect, type Socket } from 'node:net';

/** The opening a client sends (an XML declaration, then the stream header). */
export function streamOpen(domain = 'localhost'): string {
  return (
    "<?xml version='1.0'?><stream:stream to='" +
    domain +
    "' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
  );
}

/** A PLAIN `<auth/>` for `user` / `password`. */
export function plainAuth(user: string, password: string): string {
  const payload = Buffer.from(`\0${user}\0${password}`).toString('base64');
  return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${payload}</auth>`;
}

/** The attributes of the start tags named `name` in `text` (double- or single-quoted values). */
export function startTags(text: string, name: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const tag = new RegExp(`<${name}\\b([^>]*)>`, 'g');
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    const attrs: Record<string, string> = {};
    const attr = /([\w:-]+)=(?:"([^"]*)"|'([^']*)')/g;
    for (let a = attr.exec(m[1]!); a !== null; a = attr.exec(m[1]!)) attrs[a[1]!] = a[2] ?? a[3] ?? '';
    out.push(attrs);
  }
  return out;
}

/**
 * A raw XMPP client over a plain TCP socket, for tests that need what `@xmpp/client` will not do:
 * send malformed bytes, stop reading, or read what arrives as text. Everything received is kept
 * in {@link text}; `waitFor` resolves when a predicate on it holds.
 */
export class RawClient {
  /** Everything received, decoded as UTF-8. */
  text = '';
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** Reads and writes an already connected socket (a TLS one, after STARTTLS). */
  static over(socket: Socket): RawClient {
    return new RawClient(socket);
  }

  /** Connects to `127.0.0.1:port` (or `host`). */
  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /**
   * Connects, logs in with PLAIN, binds `resource` and resolves with the full JID. Rejects when
   * the server refuses.
   */
  static async login(
    port: number,
    user: string,
    password: string,
    resource: string,
    domain = 'localhost',
  ): Promise<RawClient & { readonly jid: string }> {
    const c = await RawClient.connect(port);
    c.write(streamOpen(domain) + plainAuth(user, password));
    await c.waitFor(
      (t) => t.includes('<success') || t.includes('<failure') || t.includes('</stream:stream>'),
    );
    if (!c.text.includes('<success')) throw new Error(`login of ${user} refused: ${c.text.slice(-300)}`);
    c.write(
      `${streamOpen(domain)}<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    await c.waitFor((t) => /<jid>[^<]*<\/jid>/.test(t) || t.includes('type="error" id="bind"'));
    const jid = /<jid>([^<]*)<\/jid>/.exec(c.text)?.[1];
    if (jid === undefined) throw new Error(`bind of ${user} refused: ${c.text.slice(-300)}`);
    return Object.assign(c, { jid });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(data: string | Uint8Array): void {
    if (!this.isClosed) this.socket.write(data);
  }

  /** Stops reading: what the server sends piles up in its buffers and the kernel's. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Resolves once `predicate(text)` holds (checked on each arrival and at close); rejects after `timeoutMs`. */
  waitFor(predicate: (text: string) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.text)) {
          if (this.isClosed) {
            this.waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`closed before the awaited data arrived; got: ${this.text.slice(-400)}`));
          }
          return;
        }
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting; got: ${this.text.slice(-400)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Ends the stream and the socket. */
  close(): void {
    if (this.isClosed) return;
    this.socket.end('</stream:stream>');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
