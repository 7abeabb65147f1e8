// What the programs of bench/xmpp share: the knobs (environment variables) and the shapes of
// their answers.

export const N = Number(process.env.N ?? 500);
export const K = Number(process.env.K ?? 20);
export const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
/** Driver processes; each logs in users `i ≡ d (mod DRIVERS)` with CONCURRENCY / DRIVERS logins in flight. */
export const DRIVERS = Number(process.env.DRIVERS ?? 1);
/**
 * How both servers store passwords: `plain` (ejabberd's default `auth_password_format`, and
 * MemoryUserStore's) or `scram` (salt, iteration count 4096, StoredKey and ServerKey only: a
 * PLAIN login then costs one PBKDF2 on both servers).
 */
export const PASSWORD_FORMAT = process.env.PASSWORD_FORMAT === 'scram' ? 'scram' : 'plain';
/** The driver's SASL mechanism: PLAIN (default) or SCRAM-SHA-1 (then the driver runs PBKDF2 too). */
export const MECHANISM = process.env.MECHANISM === 'SCRAM-SHA-1' ? 'SCRAM-SHA-1' : 'PLAIN';
/**
 * The transport: `tcp` (plain), `starttls` (both servers offer STARTTLS with a self-signed
 * certificate and the driver takes it), or `ws` (otp-chat only: WebSocket and TCP rounds
 * interleaved on one server, RATIO ws-vs-tcp).
 */
export const TRANSPORT: 'tcp' | 'starttls' | 'ws' =
  process.env.TRANSPORT === 'starttls' || process.env.TRANSPORT === 'ws' ? process.env.TRANSPORT : 'tcp';
export const DOMAIN = 'localhost';
export const PASSWORD = 'secret';
export const user = (i: number) => `u${i}`;

export interface ServerHandle {
  readonly name: string;
  readonly port: number;
  /** How the driver connects: `ws` for the WebSocket endpoint, else TCP (STARTTLS when offered). */
  readonly transport: 'xmpp' | 'ws';
  /** The self-signed certificate the driver trusts, when the server has TLS. */
  readonly cert?: string;
  /** VM-accounted bytes (see main.ts's header comment). */
  memory(): Promise<number>;
  /** Resident set size of the server process, bytes. */
  rss(): Promise<number>;
  /** CPU seconds the server process used so far (user + system). */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

export interface Row {
  readonly server: string;
  /** Server, driver and idle-server CPU seconds during the login phase and the message phase. */
  readonly cpu: {
    readonly loginServer: number;
    readonly loginDriver: number;
    readonly msgServer: number;
    readonly msgDriver: number;
    /** CPU seconds the other (idle) server used meanwhile: interference, should be ~0. */
    readonly loginOthers: number;
    readonly msgOthers: number;
  };
  readonly loginsPerSec: number;
  readonly msgsPerSec: number;
  readonly delivered: number;
  readonly bytesPerSession: number;
  readonly rssPerSession: number;
}

export type DriverRequest =
  | {
      readonly type: 'login';
      readonly port: number;
      readonly transport: 'xmpp' | 'ws';
      readonly cert?: string | undefined;
    }
  /** Starts counting the message phase's chats; every driver answers before any is asked to blast. */
  | { readonly type: 'arm' }
  | { readonly type: 'blast' }
  | { readonly type: 'logout' }
  | { readonly type: 'exit' };

export type DriverReply =
  | { readonly type: 'logged-in'; readonly sec: number; readonly cpu: number }
  | { readonly type: 'delivered'; readonly sec: number; readonly received: number; readonly cpu: number }
  | { readonly type: 'armed' }
  | { readonly type: 'logged-out' };

/** Contacts per user in the presence round (bench/xmpp/presence.ts). */
export const CONTACTS = 20;

/** The presence round's rosters: user i and i±1 … i±CONTACTS/2 (mod N) are subscribed both ways. */
export function contactsOf(i: number, n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= CONTACTS / 2; d++) out.push((i + d) % n, (i - d + n) % n);
  return out;
}
