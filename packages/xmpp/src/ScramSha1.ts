import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULTS } from './DEFAULTS.ts';
import { saslprep } from './internal/saslprep.ts';

/**
 * What a server stores for SCRAM-SHA-1 (RFC 5802 §3): never the password itself.
 * `storedKey = H(HMAC(SaltedPassword, "Client Key"))`, `serverKey = HMAC(SaltedPassword, "Server Key")`.
 */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Derives {@link ScramCredentials} from a password (SASLprep'd here), a salt and an iteration count. */
export function scramCredentials(password: string, salt: Buffer, iterations: number): ScramCredentials {
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, 20, 'sha1');
  const clientKey = hmac(salted, 'Client Key');
  return {
    salt,
    iterations,
    storedKey: createHash('sha1').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha1', key).update(data).digest();
}

/** One step of the exchange: send a challenge, succeed (with additional data), or fail. */
export type ScramStep =
  | { readonly type: 'challenge'; readonly data: string }
  | { readonly type: 'success'; readonly data: string; readonly username: string }
  | {
      readonly type: 'failure';
      readonly condition: 'malformed-request' | 'not-authorized' | 'invalid-authzid';
    };

/** Looks up the credentials of a (SASLprep'd) user name; `undefined` for an unknown user. */
export type ScramLookup = (
  username: string,
) => ScramCredentials | undefined | Promise<ScramCredentials | undefined>;

/** Options of a {@link ScramSha1Server}. */
export interface ScramSha1ServerOptions {
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
 * The server side of one SCRAM-SHA-1 exchange (RFC 5802), without channel binding (`n` or `y`
 * GS2 flag; `p=` is refused). `start(clientFirst)` then `finish(clientFinal)`.
 */
export class ScramSha1Server {
  private state: 'initial' | 'challenged' | 'done' = 'initial';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private username = '';
  private credentials: ScramCredentials | undefined;

  constructor(
    private readonly lookup: ScramLookup,
    private readonly options: ScramSha1ServerOptions = {},
  ) {}

  /** The SASLprep'd user name of the client-first message, once it was read (`''` before). */
  get user(): string {
    return this.username;
  }

  /** Handles the client-first message (the `<auth/>` payload, base64-decoded). */
  async start(clientFirst: string): Promise<ScramStep> {
    if (this.state !== 'initial') return this.fail('malformed-request');
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (m === null) return this.fail('malformed-request');
    const authzid = m[2] === undefined ? '' : unescapeSaslName(m[2].slice(2));
    const bare = m[3]!;
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
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) return this.fail('not-authorized');
    if (attrs.get('r') !== this.nonce) return this.fail('not-authorized');
    const credentials = this.credentials;
    if (credentials === undefined) return this.fail('not-authorized');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = createHmac('sha1', credentials.storedKey).update(authMessage).digest();
    const proof = Buffer.from(proofB64, 'base64');
    if (proof.length !== clientSignature.length) return this.fail('not-authorized');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash('sha1').update(clientKey).digest();
    if (!timingSafeEqual(storedKey, credentials.storedKey)) return this.fail('not-authorized');
    const serverSignature = createHmac('sha1', credentials.serverKey).update(authMessage).digest();
    return { type: 'success', data: `v=${serverSignature.toString('base64')}`, username: this.username };
  }

  private fail(condition: 'malformed-request' | 'not-authorized' | 'invalid-authzid'): ScramStep {
    this.state = 'done';
    return { type: 'failure', condition };
  }
}
