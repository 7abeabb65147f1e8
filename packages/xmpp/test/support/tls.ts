import { selfSignedCertificate } from '../../src/selfSignedCertificate.ts';
import type { PemPair } from '../../src/TlsCredentials.ts';
import { trustCertificate } from '../../src/testing/index.ts';

let pem: Promise<PemPair> | undefined;

/**
 * A self-signed certificate for `localhost`, made once per test process and trusted by this
 * process's TLS clients (as a user accepts a fingerprint).
 */
export function testCertificate(): Promise<PemPair> {
  pem ??= selfSignedCertificate('localhost').then((p) => {
    trustCertificate(p.cert);
    return p;
  });
  return pem;
}
