import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULTS } from './DEFAULTS.ts';
import { saslprep } from './internal/saslprep.ts';

/** The hash of a SCRAM mechanism: SCRAM-SHA-1 (RFC 5802), SCRAM-SHA-256 (RFC 7677), SCRAM-SHA-512. */
export type ScramHash = 'sha1' | 'sha256' | 'sha512';

/** The output length of each hash, the length of SaltedPassword and of every key. */
const HASH_BYTES: Readonly<Record<ScramHash, number>> = { sha1: 20, sha256: 32, sha512: 64 };

/**
 * What a server stores for a SCRAM mechanism (RFC 5802 §3): never the password itself.
 * `storedKey = H(HMAC(SaltedPassword, "Client Key"))`, `serverKey = HMAC(SaltedPassword, "Server Key")`.
 */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/**
 * Derives {@link ScramCredentials} from a password (SASLprep'd here), a salt and an iteration
 * count, for `hash` (SHA-1 unless told).
 */
export function scramCredentials(
  password: string,
  salt: Buffer,
  iterations: number,
  hash: ScramHash = 'sha1',
): ScramCredentials {
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, HASH_BYTES[hash], hash);
  const clientKey = hmac(hash, salted, 'Client Key');
  return {
    salt,
    iterations,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, 'Server Key'),
  };
}

function hmac(hash: ScramHash, key: Buffer, data: string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** The SCRAM mechanisms and their hashes, strongest first; `-PLUS` adds channel binding (RFC 5802 §6). */
export const SCRAM_MECHANISMS = {
  'SCRAM-SHA-512-PLUS': { hash: 'sha512', plus: true },
  'SCRAM-SHA-256-PLUS': { hash: 'sha256', plus: true },
  'SCRAM-SHA-1-PLUS': { hash: 'sha1', plus: true },
  'SCRAM-SHA-512': { hash: 'sha512', plus: false },
  'SCRAM-SHA-256': { hash: 'sha256', plus: false },
  'SCRAM-SHA-1': { hash: 'sha1', plus: false },
} as const satisfies Record<string, { readonly hash: ScramHash; readonly plus: boolean }>;

/** The name of a SCRAM mechanism. */
export type ScramMechanism = keyof typeof SCRAM_MECHANISMS;

/** One step of the exchange: send a challenge, succeed (with additional data), or fail. */
export type ScramStep =
  | { readonly type: 'challenge'; readonly data: string }
  | { readonly type: 'success'; readonly data: string; readonly username: string }
  | {
      readonly type: 'failure';
      readonly condition: 'malformed-request' | 'not-authorized' | 'invalid-authzid';
    };

type ScramFailure = 'malformed-request' | 'not-authorized' | 'invalid-authzid';

/** Looks up the credentials of a (SASLprep'd) user name; `undefined` for an unknown user. */
export type ScramLookup = (
  username: string,
) => ScramCredentials | undefined | Promise<ScramCredentials | undefined>;

/** Options of a {@link ScramServer}. */
export interface ScramServerOptions {
  /** @default 'sha1' */
  readonly hash?: ScramHash;
  /** A `-PLUS` mechanism: the client must bind to the channel (`p=` GS2 flag). @default false */
  readonly plus?: boolean;
  /**
   * The channel binding data of this connection for a type (`tls-server-end-point`,
   * `tls-exporter`), `undefined` when the type is not available. Omit when the connection has no
   * channel binding (not on TLS).
   */
  readonly channelBinding?: (type: string) => Buffer | undefined;
  /** Makes the server nonce part. @default 18 random bytes in base64 */
  readonly nonce?: () => string;
  /** Checks the authorization identity (`a=`); return false to refuse it. @default only '' */
  readonly authzidAllowed?: (authzid: string, username: string) => boolean;
  /**
   * The salt and iteration count announced for a user that does not exist, which must look like a
   * real user's: the same every time for one name (a random salt per attempt would tell that the
   * account does not exist) and the iteration count real accounts have.
   * @default {@link scramDecoy} under a secret drawn once per process, `DEFAULTS.scramIterations`
   */
  readonly unknownUser?: (username: string) => { readonly salt: Buffer; readonly iterations: number };
}

/** The length of the salts `scramCredentials` callers draw (16 random bytes). */
const SALT_BYTES = 16;

/**
 * A decoy salt for an unknown user: the first 16 bytes of HMAC-SHA-1(secret, username), so that
 * the same name always gets the same salt, and nobody without the secret can tell it from a real,
 * random one.
 */
export function scramDecoy(secret: Buffer, username: string): Buffer {
  return createHmac('sha1', secret).update(username).digest().subarray(0, SALT_BYTES);
}

let processSecret: Buffer | undefined;
function defaultUnknownUser(username: string): { salt: Buffer; iterations: number } {
  processSecret ??= randomBytes(32);
  return { salt: scramDecoy(processSecret, username), iterations: DEFAULTS.scramIterations };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function unescapeSaslName(name: string): string | undefined {
  // RFC 5802 §5.1: ',' and '=' are sent as '=2C' and '=3D'; any other '=' is malformed.
  if (!name.includes('=')) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c !== '=') {
      out += c;
      continue;
    }
    const code = name.slice(i + 1, i + 3);
    if (code === '2C') out += ',';
    else if (code === '3D') out += '=';
    else return undefined;
    i += 2;
  }
  return out;
}

function attributes(message: string): Map<string, string> | undefined {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') return undefined;
    map.set(part[0]!, part.slice(2));
  }
  return map;
}

/**
 * The server side of one SCRAM exchange (RFC 5802; RFC 7677 for SHA-256): `start(clientFirst)`
 * then `finish(clientFinal)`. The GS2 flag is checked against the mechanism (RFC 5802 §6): a
 * `-PLUS` mechanism needs `p=<type>` with a type this connection has, and the binding data in the
 * client-final `c=` must be this channel's; a plain mechanism refuses `p=`, and refuses `y` (the
 * client thinks the server cannot bind: a downgrade) when this connection could bind.
 */
export class ScramServer {
  private state: 'initial' | 'challenged' | 'done' = 'initial';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private username = '';
  private credentials: ScramCredentials | undefined;
  /** The channel binding data the client bound to (`p=`), empty otherwise. */
  private cbindData: Buffer = Buffer.alloc(0);
  private readonly hash: ScramHash;

  constructor(
    private readonly lookup: ScramLookup,
    private readonly options: ScramServerOptions = {},
  ) {
    this.hash = options.hash ?? 'sha1';
  }

  /** The SASLprep'd user name of the client-first message, once it was read (`''` before). */
  get user(): string {
    return this.username;
  }

  /** Handles the client-first message (the `<auth/>` payload, base64-decoded). */
  async start(clientFirst: string): Promise<ScramStep> {
    if (this.state !== 'initial') return this.fail('malformed-request');
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const m = /^(n|y|p=([A-Za-z0-9.-]+)),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (m === null) return this.fail('malformed-request');
    const binding = this.checkBindingFlag(m[1]!, m[2]);
    if (binding !== undefined) return this.fail(binding);
    const authzid = m[3] === undefined ? '' : unescapeSaslName(m[3].slice(2));
    const bare = m[4]!;
    const attrs = attributes(bare);
    const rawUser = attrs?.get('n');
    const cnonce = attrs?.get('r');
    if (authzid === undefined || attrs === undefined || rawUser === undefined || cnonce === undefined) {
      return this.fail('malformed-request');
    }
    if (attrs.has('m') || cnonce === '' || cnonce.includes(',')) return this.fail('malformed-request');
    const user = unescapeSaslName(rawUser);
    if (user === undefined || user === '') return this.fail('malformed-request');
    let username: string;
    try {
      username = saslprep(user);
    } catch {
      return this.fail('malformed-request');
    }
    const allowed = this.options.authzidAllowed ?? ((a: string) => a === '');
    if (!allowed(authzid, username)) return this.fail('invalid-authzid');
    const credentials = await this.lookup(username);
    // An unknown user still gets a challenge, with a salt and an iteration count that look like
    // a real user's (stable per name), so that it cannot be told apart from a wrong password; the
    // proof check fails later.
    this.credentials = credentials;
    const decoy =
      credentials === undefined ? (this.options.unknownUser ?? defaultUnknownUser)(username) : undefined;
    const salt = credentials?.salt ?? decoy!.salt;
    const iterations = credentials?.iterations ?? decoy!.iterations;
    this.gs2Header = clientFirst.slice(0, clientFirst.length - bare.length);
    this.clientFirstBare = bare;
    this.username = username;
    this.nonce = cnonce + (this.options.nonce ?? (() => randomBytes(18).toString('base64')))();
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.state = 'challenged';
    return { type: 'challenge', data: this.serverFirst };
  }

  /** Handles the client-final message (the `<response/>` payload, base64-decoded). */
  finish(clientFinal: string): ScramStep {
    if (this.state !== 'challenged') return this.fail('malformed-request');
    this.state = 'done';
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) return this.fail('malformed-request');
    const withoutProof = clientFinal.slice(0, proofAt);
    const proofB64 = clientFinal.slice(proofAt + 3);
    const attrs = attributes(withoutProof);
    if (attrs === undefined || !B64.test(proofB64)) return this.fail('malformed-request');
    const cbind = Buffer.concat([Buffer.from(this.gs2Header), this.cbindData]).toString('base64');
    if (attrs.get('c') !== cbind) return this.fail('not-authorized');
    if (attrs.get('r') !== this.nonce) return this.fail('not-authorized');
    const credentials = this.credentials;
    if (credentials === undefined) return this.fail('not-authorized');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const hash = this.hash;
    if (credentials.storedKey.length !== HASH_BYTES[hash]) return this.fail('not-authorized');
    const clientSignature = hmac(hash, credentials.storedKey, authMessage);
    const proof = Buffer.from(proofB64, 'base64');
    if (proof.length !== clientSignature.length) return this.fail('not-authorized');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash(hash).update(clientKey).digest();
    if (!timingSafeEqual(storedKey, credentials.storedKey)) return this.fail('not-authorized');
    const serverSignature = hmac(hash, credentials.serverKey, authMessage);
    return { type: 'success', data: `v=${serverSignature.toString('base64')}`, username: this.username };
  }

  /** RFC 5802 §6: the GS2 channel binding flag against the mechanism and this connection. */
  private checkBindingFlag(flag: string, type: string | undefined): ScramFailure | undefined {
    const cb = this.options.channelBinding;
    if (this.options.plus === true) {
      if (type === undefined || cb === undefined) return 'malformed-request';
      const data = cb(type);
      if (data === undefined) return 'malformed-request';
      this.cbindData = data;
      return undefined;
    }
    if (type !== undefined) return 'malformed-request';
    // `y`: the client could bind but thinks the server cannot; this connection can: a downgrade.
    if (flag === 'y' && cb !== undefined) return 'not-authorized';
    return undefined;
  }

  private fail(condition: ScramFailure): ScramStep {
    this.state = 'done';
    return { type: 'failure', condition };
  }
}
