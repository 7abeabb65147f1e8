// bench/xmpp's lean load driver, one process per loopback source address (forked by rawBench.ts
// with its slot, the driver count, the source address and N): raw TCP sockets and string scanning,
// no XMPP library, so that the server, not the driver, is what a round measures. Each login is the
// shortest exchange both servers accept, step by step (stream, SASL PLAIN with the credentials
// base64-encoded once before the timed phase, stream restart, resource bind); a step waits for its
// answer's closing marker (`</stream:features>`, `success`, `</iq>`; a bind answered with an error
// is a failed login), no parser. After the logins the only stanzas a session receives are the
// bench's messages, read as whole `<message>` stanzas: the message phase counts chats
// (`<body>m</body>`) and, apart, the bounces of the session's own chats (`type='error'`: they carry
// the body too); the round-trip probes find `<body>p<seq>` and time them against the send (the two
// may run at once: round trips under load). The count starts at `arm`, which every driver answers
// before any is asked to blast; after the phase every session pings the server, and rawBench.ts
// classifies each chat that did not arrive (FIGURE msgs-missing, msgs-bounced, msgs-to-closed).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { DOMAIN, PASSWORD, user } from './shared.ts';

/** What rawBench.ts asks, one at a time. */
export type RawRequest =
  | {
      readonly type: 'login';
      readonly port: number;
      readonly concurrency: number;
      readonly deadlineMs?: number;
    }
  | { readonly type: 'arm' }
  | { readonly type: 'blast'; readonly k: number }
  | { readonly type: 'rtt'; readonly probes: number; readonly inFlight: number }
  | { readonly type: 'logout' }
  | { readonly type: 'exit' };

export type RawReply =
  | { readonly type: 'ready' }
  | {
      readonly type: 'logged-in';
      readonly sec: number;
      readonly cpu: number;
      readonly failed: number;
      readonly error?: string;
      /** The users of this driver whose login failed or was not tried (by the deadline). */
      readonly failedUsers: readonly number[];
    }
  | {
      readonly type: 'delivered';
      readonly sec: number;
      readonly received: number;
      /** Chats counted between `arm` and `blast` (other drivers' first chats, which came first). */
      readonly early: number;
      readonly cpu: number;
      /** Every logged-in user of this driver that got fewer than K chats: [user, chats received]. */
      readonly short: readonly (readonly [number, number])[];
      /** Every sender of this driver that got its chats back as error bounces: [user, bounces, first bounce]. */
      readonly bounced: readonly (readonly [number, number, string])[];
      /** The sessions of this driver whose IQ after the phase the server did not answer within 5 s. */
      readonly silent: readonly number[];
      /** Every session of this driver the server closed (or that failed) since its login: [user, what it read last]. */
      readonly closed: readonly (readonly [number, string])[];
    }
  | { readonly type: 'rtt'; readonly micros: number[]; readonly lost: number }
  | { readonly type: 'armed' }
  | { readonly type: 'logged-out' };

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const OPEN = `<?xml version='1.0'?><stream:stream to='${DOMAIN}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
const BIND = `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`;
/** The body of the message phase's chats (the probes' are `p<seq>`). */
const BLAST_BODY = '<body>m</body>';
/** Bounds: a step longer than this fails the login; every phase ends by this deadline. */
const STEP_TIMEOUT_MS = 30_000;
const PHASE_TIMEOUT_MS = Number(process.env.PHASE_TIMEOUT_MS ?? 180_000);
/** What a session keeps of text that is no stanza it counts (a stream error's start, a split tag). */
const KEEP = 512;

interface Conn {
  readonly index: number;
  readonly socket: Socket;
  /** Login: what was read since the last step. Afterwards: the unfinished stanza (up to KEEP characters otherwise). */
  text: string;
  /** The login step waiting for a marker. */
  waiting:
    | { readonly markers: readonly string[]; readonly done: (found: string, text: string) => void }
    | undefined;
  /** Chats (`<body>m</body>`, not an error) received in the message phase. */
  received: number;
  /** This session's own chats that came back as `type='error'` bounces, and the first one. */
  bounced: number;
  firstBounce: string;
  /** Set once the socket closed after the login: the last text read (a stream error, if any). */
  closed: string | undefined;
  /** After the message phase: the server answered this session's IQ (its connection reads and writes). */
  answered: boolean;
}

const cpuSeconds = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const [slotArg, driversArg, address, nArg] = process.argv.slice(2);
const slot = Number(slotArg);
const drivers = Number(driversArg);
const n = Number(nArg);
/** Users i ≡ slot (mod drivers). */
const mine: number[] = [];
for (let i = slot; i < n; i += drivers) mine.push(i);
const auth = mine.map(
  (i) =>
    `<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user(i)}\0${PASSWORD}`).toString('base64')}</auth>`,
);
let conns: Conn[] = [];
/** Message phase: the count this driver expects, and what to call when it is reached. */
let expected = 0;
let total = 0;
let onAllIn: () => void = () => {};
/** After the message phase, an IQ to the server on each session short of chats and on each sender: does its connection still answer? */
const PING_ID = 'after-blast';
const PING = `<iq type='get' id='${PING_ID}' to='${DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>`;
let answeredCount = 0;
let expectedAnswers = 0;
let onAllAnswered: () => void = () => {};
/** Probes: send time by sequence number, and what to call with each arrival. */
const probeSent = new Map<number, bigint>();
let onProbe: (seq: number, at: bigint) => void = () => {};

function onData(c: Conn, chunk: string): void {
  if (c.waiting !== undefined) {
    c.text += chunk;
    for (const m of c.waiting.markers) {
      if (c.text.includes(m)) {
        const done = c.waiting.done;
        const text = c.text;
        c.waiting = undefined;
        c.text = '';
        done(m, text);
        return;
      }
    }
    return;
  }
  // Whole `<message …>…</message>` stanzas: a chat, a bounce of one of ours (`type='error'`, the
  // original body inside), or a probe; anything else (a stream error) stays in the kept text.
  const text = c.text + chunk;
  let start = 0;
  for (;;) {
    const end = text.indexOf('</message>', start);
    if (end < 0) break;
    const open = text.lastIndexOf('<message', end);
    const tagEnd = text.indexOf('>', open);
    const error = open >= 0 && /\btype=['"]error['"]/.test(text.slice(open, tagEnd));
    const body = text.indexOf('<body>', open);
    if (body >= 0 && body < end) {
      if (text.startsWith(BLAST_BODY, body)) {
        if (error) {
          if (c.bounced++ === 0) c.firstBounce = text.slice(open, end + 10);
        } else {
          c.received++;
          // Counted from `arm` on: chats may come before this driver is asked to blast.
          if (++total === expected) onAllIn();
        }
      } else if (text.startsWith('<body>p', body) && !error) {
        onProbe(Number(text.slice(body + 7, text.indexOf('<', body + 7))), process.hrtime.bigint());
      }
    }
    start = end + 10;
  }
  if (!c.answered && (text.includes(`id='${PING_ID}'`) || text.includes(`id="${PING_ID}"`))) {
    c.answered = true;
    if (++answeredCount === expectedAnswers) onAllAnswered();
  }
  const rest = text.slice(start);
  c.text = rest.length > KEEP && !rest.includes('<message') ? rest.slice(0, KEEP) : rest;
}

/** The marker found, and the text read up to it. */
function step(c: Conn, markers: readonly string[]): Promise<readonly [string, string]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`user ${c.index}: no ${markers[0]} within ${STEP_TIMEOUT_MS} ms`)),
      STEP_TIMEOUT_MS,
    );
    c.waiting = {
      markers,
      done: (m, text) => {
        clearTimeout(timer);
        resolve([m, text]);
      },
    };
  });
}

/**
 * The source ports this driver's address uses, in turn, below Linux's ephemeral range: a bind to
 * an address with port 0 searches the range for a free port, which took half of the driver's CPU
 * with thousands of sockets open; a given port is one lookup. 31,743 ports: a port comes back
 * after that many connections of this driver, minutes later, long after its TIME_WAIT (on the
 * server's side: the server closes first).
 */
const FIRST_PORT = 1025;
const LAST_PORT = 32767;
let nextPort = FIRST_PORT;

async function open(port: number): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    const localPort = nextPort;
    nextPort = nextPort === LAST_PORT ? FIRST_PORT : nextPort + 1;
    const socket = connect({ host: '127.0.0.1', port, localAddress: address, localPort, noDelay: true });
    try {
      await once(socket, 'connect');
      return socket;
    } catch (error) {
      socket.destroy();
      // A port some process listens on for every address (0.0.0.0): take the next one.
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 50) throw error;
    }
  }
}

async function login1(i: number, j: number, port: number): Promise<Conn> {
  const socket = await open(port);
  socket.setEncoding('latin1');
  const c: Conn = {
    index: i,
    socket,
    text: '',
    waiting: undefined,
    received: 0,
    bounced: 0,
    firstBounce: '',
    closed: undefined,
    answered: false,
  };
  socket.on('data', (d: string) => onData(c, d));
  socket.on('error', () => {});
  socket.once('close', () => {
    c.closed = c.text.slice(0, 300) || '(closed, nothing pending)';
  });
  try {
    await steps(c, j);
    return c;
  } catch (error) {
    // A session half made (a bind answered late) must not receive chats this driver does not count.
    c.waiting = undefined;
    socket.destroy();
    throw error;
  }
}

async function steps(c: Conn, j: number): Promise<void> {
  const { socket, index: i } = c;
  const features = step(c, ['</stream:features>']);
  socket.write(OPEN);
  await features;
  const sasl = step(c, ['success', 'failure']);
  socket.write(auth[j]!);
  const [outcome, saslText] = await sasl;
  if (outcome !== 'success') throw new Error(`user ${i}: SASL failure: ${saslText.slice(0, 200)}`);
  const restarted = step(c, ['</stream:features>']);
  socket.write(OPEN);
  await restarted;
  const bound = step(c, ['</iq>']);
  socket.write(BIND);
  const [, bindText] = await bound;
  // A bind refused (`internal-server-error` when the session store timed out) ends with `</iq>` too.
  if (/type=['"]error['"]/.test(bindText))
    throw new Error(`user ${i}: bind refused: ${bindText.slice(0, 300)}`);
}

async function login(port: number, concurrency: number, deadlineMs: number): Promise<RawReply> {
  const deadline = Date.now() + deadlineMs;
  conns = new Array(mine.length);
  let next = 0;
  let failed = 0;
  let error: string | undefined;
  const failedUsers: number[] = [];
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < mine.length && Date.now() < deadline) {
        const j = next++;
        try {
          conns[j] = await login1(mine[j]!, j, port);
        } catch (e) {
          failed++;
          failedUsers.push(mine[j]!);
          if (failed <= 10) process.stderr.write(`# driver ${slot}: login failed: ${(e as Error).message}\n`);
          error ??= (e as Error).message;
        }
      }
    }),
  );
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  failed += mine.length - next;
  failedUsers.push(...mine.slice(next));
  conns = conns.filter((c) => c !== undefined);
  return {
    type: 'logged-in',
    sec,
    cpu: cpuSeconds() - cpu0,
    failed,
    failedUsers,
    ...(error ? { error } : {}),
  };
}

/** Every session sends `k` chats to the next user's full JID (another driver's, mostly). */
/**
 * Zeroes the message phase's counts. Every driver is armed (and has answered) before any is asked
 * to blast: another driver's first chats can reach this one's sessions before this one hears
 * `blast`, and zeroing then would forget them (that was the bench's "lost" chats: K of them, those
 * of the first sender of the driver asked first, now and then in a fresh server's first round).
 */
function arm(): RawReply {
  total = 0;
  expected = Number.POSITIVE_INFINITY;
  for (const c of conns) {
    c.received = 0;
    c.bounced = 0;
    c.firstBounce = '';
  }
  return { type: 'armed' };
}

async function blast(k: number): Promise<RawReply> {
  const early = total;
  expected = conns.length * k;
  const allIn = new Promise<void>((resolve) => {
    onAllIn = resolve;
    if (total >= expected) resolve();
  });
  const payloads = conns.map((c) => {
    const to = `${user((c.index + 1) % n)}@${DOMAIN}/r`;
    return `<message to='${to}' type='chat'>${BLAST_BODY}</message>`.repeat(k);
  });
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < conns.length; j++) conns[j]!.socket.write(payloads[j]!);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([allIn, new Promise<void>((r) => (timer = setTimeout(r, PHASE_TIMEOUT_MS)))]);
  clearTimeout(timer);
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds() - cpu0;
  // Every session pings the server (5 s at most): one that does not answer has a stuck connection.
  answeredCount = 0;
  expectedAnswers = conns.length;
  const answered = new Promise<void>((resolve) => {
    onAllAnswered = resolve;
  });
  for (const c of conns) {
    c.answered = false;
    c.socket.write(PING);
  }
  let pingTimer: NodeJS.Timeout | undefined;
  await Promise.race([answered, new Promise<void>((r) => (pingTimer = setTimeout(r, 5000)))]);
  clearTimeout(pingTimer);
  return {
    type: 'delivered',
    sec,
    received: total,
    early,
    cpu,
    silent: conns.filter((c) => !c.answered).map((c) => c.index),
    short: conns.filter((c) => c.received < k).map((c) => [c.index, c.received] as const),
    bounced: conns.filter((c) => c.bounced > 0).map((c) => [c.index, c.bounced, c.firstBounce] as const),
    closed: conns.filter((c) => c.closed !== undefined).map((c) => [c.index, c.closed!] as const),
  };
}

/**
 * Round trips with the sessions held: `probes` chats, each from one of this driver's sessions to
 * another of them (spread over all), `inFlight` at a time; a probe unanswered within 5 s is lost.
 */
async function rtt(probes: number, inFlight: number): Promise<RawReply> {
  const micros: number[] = [];
  let lost = 0;
  let seq = 0;
  if (conns.length < 2) return { type: 'rtt', micros, lost: probes };
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  await new Promise<void>((resolve) => {
    let active = 0;
    const timers = new Map<number, NodeJS.Timeout>();
    const send = () => {
      while (active < inFlight && seq < probes && Date.now() < deadline) {
        const s = seq++;
        const from = conns[(s * 7919) % conns.length]!;
        const to = conns[(s * 7919 + 1 + (s % (conns.length - 1))) % conns.length]!;
        active++;
        probeSent.set(s, process.hrtime.bigint());
        timers.set(
          s,
          setTimeout(() => {
            probeSent.delete(s);
            timers.delete(s);
            lost++;
            active--;
            next();
          }, 5000),
        );
        from.socket.write(
          `<message to='${user(to.index)}@${DOMAIN}/r' type='chat'><body>p${s}</body></message>`,
        );
      }
    };
    const next = () => {
      if (active === 0 && (seq >= probes || Date.now() >= deadline)) resolve();
      else setImmediate(send);
    };
    onProbe = (s, at) => {
      const sent = probeSent.get(s);
      if (sent === undefined) return;
      probeSent.delete(s);
      clearTimeout(timers.get(s));
      timers.delete(s);
      micros.push(Number(at - sent) / 1000);
      active--;
      next();
    };
    send();
  });
  onProbe = () => {};
  return { type: 'rtt', micros, lost };
}

/** Ends each stream and waits for the server to close it (its side keeps TIME_WAIT), 10 s at most. */
async function logout(): Promise<RawReply> {
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            c.socket.destroy();
            resolve();
          }, 10_000);
          c.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.socket.end('</stream:stream>');
        }),
    ),
  );
  conns = [];
  return { type: 'logged-out' };
}

process.on('message', (m: RawRequest) => {
  const reply = (r: RawReply) => process.send?.(r);
  if (m.type === 'login') void login(m.port, m.concurrency, m.deadlineMs ?? PHASE_TIMEOUT_MS).then(reply);
  else if (m.type === 'arm') reply(arm());
  else if (m.type === 'blast') void blast(m.k).then(reply);
  else if (m.type === 'rtt') void rtt(m.probes, m.inFlight).then(reply);
  else if (m.type === 'logout') void logout().then(reply);
  else if (m.type === 'exit') process.exit(0);
});
process.send?.({ type: 'ready' } satisfies RawReply);
