import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate as ParsedCertificate } from '@peculiar/x509';
import { XmppConfigError } from './errors.ts';

/** A certificate and its private key, PEM-encoded. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** Where a certificate and its key are read from (`--tls-cert`, `--tls-key`). */
export interface PemFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** One loaded certificate: what TLS serves and what channel binding needs of it. */
interface Loaded {
  readonly context: SecureContext;
  readonly fingerprint256: string;
  /** The certificate, DER. */
  readonly raw: Buffer;
  /** RFC 5929 §4.1 `tls-server-end-point`: the certificate hashed with its signature's hash (SHA-256 for MD5/SHA-1). */
  readonly endPoint: Buffer;
}

function load(pem: PemPair): Loaded {
  let x509: X509Certificate;
  let context: SecureContext;
  try {
    x509 = new X509Certificate(pem.cert);
    context = createSecureContext({ cert: pem.cert, key: pem.key, minVersion: 'TLSv1.2' });
    if (!x509.checkPrivateKey(createPrivateKey(pem.key))) throw new Error('the key does not match');
  } catch (cause) {
    throw new XmppConfigError(
      'tls',
      '(certificate)',
      `a PEM certificate and its private key: ${String(cause)}`,
    );
  }
  return { context, fingerprint256: x509.fingerprint256, raw: x509.raw, endPoint: endPoint(x509.raw) };
}

/** RFC 5929 §4.1: the certificate hashed with its signature's hash function, SHA-256 for MD5 and SHA-1. */
function endPoint(der: Buffer): Buffer {
  let hash = 'sha256';
  try {
    const name = new ParsedCertificate(der).signatureAlgorithm.hash.name.toLowerCase().replace('-', '');
    if (name === 'sha384' || name === 'sha512') hash = name;
  } catch {
    // an algorithm @peculiar/x509 cannot name: SHA-256 as for MD5 and SHA-1
  }
  return createHash(hash).update(der).digest();
}

/**
 * The server's TLS certificate (ejabberd's `certfiles`): the secure context new TLS connections
 * (STARTTLS, direct TLS, `wss`) use, its SHA-256 fingerprint, and the `tls-server-end-point`
 * channel binding data. {@link reload} reads the files again (SIGHUP): connections that are
 * already encrypted keep their session, new ones get the new certificate.
 */
export class TlsCredentials {
  private current: Loaded;

  private constructor(
    pem: PemPair,
    private readonly files: PemFiles | undefined,
  ) {
    this.current = load(pem);
  }

  /** From PEM strings (a generated certificate, tests). */
  static fromPem(pem: PemPair): TlsCredentials {
    return new TlsCredentials(pem, undefined);
  }

  /** From files; {@link reload} reads them again. Throws `XmppConfigError` when they do not load. */
  static fromFiles(files: PemFiles): TlsCredentials {
    return new TlsCredentials(readPem(files), files);
  }

  /** The secure context of the certificate in force. */
  get secureContext(): SecureContext {
    return this.current.context;
  }

  /** `AB:CD:…`, what a client shows to pin a self-signed certificate. */
  get fingerprint256(): string {
    return this.current.fingerprint256;
  }

  /**
   * `tls-server-end-point` channel binding data (RFC 5929 §4.1) of the certificate a connection
   * got (`tlsSocket.getCertificate().raw`): the one in force, or an earlier one for a connection
   * that started before a reload.
   */
  endPointBindingOf(raw: Buffer): Buffer {
    if (raw.equals(this.current.raw)) return this.current.endPoint;
    return endPoint(raw);
  }

  /**
   * Reads the files again and serves the new certificate to new connections. A file that does not
   * load throws `XmppConfigError` and leaves the certificate in force untouched.
   */
  reload(): void {
    if (this.files === undefined) return;
    this.current = load(readPem(this.files));
  }
}

function readPem(files: PemFiles): PemPair {
  try {
    return { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
  } catch (cause) {
    throw new XmppConfigError(
      'tls',
      `${files.certFile}, ${files.keyFile}`,
      `readable PEM files: ${String(cause)}`,
    );
  }
}
