import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import type { ScramHash } from '../../src/Scram.ts';

const BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32, sha512: 64 };

/**
 * The client side of SCRAM (RFC 5802 §3), written from the RFC for tests: `@xmpp/client` has
 * SCRAM-SHA-1 only, and no channel binding.
 */
export class ScramClient {
  readonly first: string;
  private readonly bare: string;
  private serverSignature = '';

  constructor(
    private readonly hash: ScramHash,
    user: string,
    private readonly password: string,
    nonce: string,
    /** `n,,`, `y,,` or `p=<type>,,`. */
    private readonly gs2 = 'n,,',
    /** The channel binding data sent in `c=` (for `p=`). */
    private readonly cbind: Buffer = Buffer.alloc(0),
  ) {
    this.bare = `n=${user},r=${nonce}`;
    this.first = gs2 + this.bare;
  }

  /** The client-final message for the server-first one. */
  final(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as const));
    const salted = pbkdf2Sync(
      this.password,
      Buffer.from(attrs.get('s')!, 'base64'),
      Number(attrs.get('i')),
      BYTES[this.hash],
      this.hash,
    );
    const h = this.hash;
    const hmac = (key: Buffer, data: string) => createHmac(h, key).update(data).digest();
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash(h).update(clientKey).digest();
    const c = Buffer.concat([Buffer.from(this.gs2), this.cbind]).toString('base64');
    const withoutProof = `c=${c},r=${attrs.get('r')}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether the server-final message proves the server knew the keys. */
  verify(serverFinal: string): boolean {
    return serverFinal === `v=${this.serverSignature}`;
  }
}
