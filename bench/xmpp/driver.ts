// bench/xmpp's load driver, one process (started by main.ts with its slot as argument):
//
// The driver is @xmpp/client (connectClient: PLAIN, reconnect off), kept as lean as it allows,
// because on a 2-core machine its CPU competes with the server's and caps what a fast server can
// show: after the login, each client's middleware (the IQ caller/callee and XEP-0198 layers, which
// build two @xmpp/jid objects per received stanza) and the test helper's recording listeners are
// removed; each client's K chat messages are built once with @xmpp/client's xml() before the timed
// phase and written with its `write` in one call (the server receives the same stanzas; TCP
// coalesces small writes anyway); received stanzas are still parsed by @xmpp/client's parser and
// counted (name 'message', type 'chat', from the expected sender). Errors are created without a
// stack in the driver (`Error.stackTraceLimit = 0`: @xmpp/client arms a TimeoutError per awaited
// login step). Each server gets its own driver process(es), the same code started the same way and
// warmed up by the same untimed round, so that neither server's stanza shapes (ejabberd's richer
// stream features) leave the other's driver with polymorphic, slower code; used for every round of
// both servers, so the bench orchestration (ejabberdctl, erl RPCs) never shares its event loop.

import { connectClient, type TestClient, trustCertificate, xml } from '@otp-chat/xmpp/testing';
import {
  CONCURRENCY,
  DOMAIN,
  DRIVERS,
  type DriverReply,
  type DriverRequest,
  K,
  MECHANISM,
  N,
  PASSWORD,
  user,
} from './shared.ts';

interface DriverClient {
  readonly tc: TestClient;
  /** The raw @xmpp/client entity, an EventEmitter with `write(string)`. */
  readonly raw: {
    removeAllListeners(event: string): void;
    on(event: 'stanza', listener: (stanza: { name: string; attrs: Record<string, string> }) => void): void;
    write(data: string): Promise<void>;
  };
}

function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

function driverProcess(slot: number): void {
  Error.stackTraceLimit = 0;
  const mine: number[] = [];
  for (let i = slot; i < N; i += DRIVERS) mine.push(i);
  let clients: DriverClient[] = [];
  let payloads: string[] = [];
  const reply = (m: DriverReply) => process.send?.(m);
  const login = async (port: number, transport: 'xmpp' | 'ws', cert: string | undefined) => {
    if (cert !== undefined) trustCertificate(cert);
    clients = new Array(mine.length);
    let next = 0;
    const cpu0 = cpuSeconds();
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: Math.max(1, Math.round(CONCURRENCY / DRIVERS)) }, async () => {
        while (next < mine.length) {
          const j = next++;
          const i = mine[j]!;
          const tc = await connectClient({
            port,
            transport,
            // Without it Nagle and delayed ACKs stall each TLS handshake's round trips by 40 ms,
            // for both servers alike: what is measured would be the driver's socket.
            noDelay: true,
            domain: DOMAIN,
            username: user(i),
            password: PASSWORD,
            resource: 'bench',
            timeoutMs: 30_000,
            mechanism: MECHANISM === 'PLAIN' ? 'PLAIN' : 'default',
          });
          const raw = tc.xmpp as unknown as DriverClient['raw'];
          for (const event of ['element', 'stanza', 'nonza', 'send']) raw.removeAllListeners(event);
          clients[j] = { tc, raw };
        }
      }),
    );
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    reply({ type: 'logged-in', sec, cpu: cpuSeconds() - cpu0 });
    // Untimed preparation of the message phase: each client's K stanzas, serialised once.
    payloads = mine.map((i) => {
      const to = `${user((i + 1) % N)}@${DOMAIN}/bench`;
      let out = '';
      for (let k = 0; k < K; k++)
        out += xml('message', { to, type: 'chat' }, xml('body', {}, `m${k}`)).toString();
      return out;
    });
  };
  // The message phase's count starts at `arm`, which every driver answers before any is asked to
  // blast: another driver's first chats may reach this driver's clients before it hears `blast`.
  const total = () => mine.length * K;
  let received = 0;
  let finish: () => void = () => {};
  /** Clients whose chats are counted (one listener each, for the life of the client). */
  const counted = new WeakSet<object>();
  const arm = () => {
    received = 0;
    clients.forEach((c, j) => {
      if (counted.has(c)) return;
      counted.add(c);
      const i = mine[j]!;
      const from = `${user((i + N - 1) % N)}@${DOMAIN}/bench`;
      const on = (s: { name: string; attrs: Record<string, string> }) => {
        if (
          s.name === 'message' &&
          s.attrs.type === 'chat' &&
          s.attrs.from === from &&
          ++received === total()
        )
          finish();
      };
      c.raw.on('stanza', on);
    });
    reply({ type: 'armed' });
  };
  const blast = async () => {
    const allIn = new Promise<void>((resolve) => {
      finish = resolve;
      if (received >= total()) resolve();
    });
    const cpu0 = cpuSeconds();
    const t1 = process.hrtime.bigint();
    for (let j = 0; j < clients.length; j++) void clients[j]!.raw.write(payloads[j]!).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allIn, new Promise<void>((r) => (timer = setTimeout(r, 120_000)))]);
    clearTimeout(timer);
    const sec = Number(process.hrtime.bigint() - t1) / 1e9;
    reply({ type: 'delivered', sec, received, cpu: cpuSeconds() - cpu0 });
  };
  process.on('message', (m: DriverRequest) => {
    if (m.type === 'login') void login(m.port, m.transport, m.cert);
    else if (m.type === 'arm') arm();
    else if (m.type === 'blast') void blast();
    else if (m.type === 'exit') process.exit(0);
    else if (m.type === 'logout') {
      void Promise.all(clients.map((c) => c.tc.stop())).then(() => {
        clients = [];
        payloads = [];
        reply({ type: 'logged-out' });
      });
    }
  });
  process.send?.({ type: 'ready' });
}

driverProcess(Number(process.argv[2]));
