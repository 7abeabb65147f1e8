import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { PemFiles, PemPair } from './TlsCredentials.ts';

/** How long a generated certificate is valid. */
const VALID_DAYS = 3650;

/**
 * A self-signed certificate for `domain` (and 127.0.0.1, ::1), made by the `selfsigned` library:
 * an ECDSA P-256 key, SHA-256 signature, `domain` and `*.domain` as DNS names (ejabberd's
 * subdomains, such as `conference.`).
 */
export async function selfSignedCertificate(domain: string): Promise<PemPair> {
  const now = new Date();
  // A distinct subject per certificate: a trust store holding an older one of the same name would
  // otherwise look the issuer up by name and may take the wrong one.
  const subject = [
    { name: 'commonName', value: domain },
    { name: 'organizationName', value: `otp-chat self-signed ${randomBytes(6).toString('hex')}` },
  ];
  const pems = await generate(subject, {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + VALID_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: domain },
          { type: 2, value: `*.${domain}` },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  // PEM files end with a newline (the library's do not): concatenated, they stay valid.
  const line = (pem: string) => (pem.endsWith('\n') ? pem : `${pem}\n`);
  return { cert: line(pems.cert), key: line(pems.private) };
}

/**
 * The certificate kept in `dir/<domain>/` (`cert.pem`, `key.pem`): generated on the first call,
 * read back on the next ones. Written into a fresh directory renamed into place, so that two
 * servers starting at once never pair one's key with the other's certificate; the key is 0600.
 */
export async function ensureSelfSignedCertificate(
  dir: string,
  domain: string,
): Promise<{ readonly files: PemFiles; readonly created: boolean }> {
  const target = join(dir, domain);
  const files = { certFile: join(target, 'cert.pem'), keyFile: join(target, 'key.pem') };
  if (existsSync(files.certFile) && existsSync(files.keyFile)) return { files, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pem = await selfSignedCertificate(domain);
  const staging = mkdtempSync(join(dir, `.${domain}-`));
  writeFileSync(join(staging, 'key.pem'), pem.key, { mode: 0o600 });
  writeFileSync(join(staging, 'cert.pem'), pem.cert);
  try {
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // Another server made it meanwhile: use that one.
    if (existsSync(files.certFile) && existsSync(files.keyFile)) return { files, created: false };
    throw error;
  }
  return { files, created: true };
}
