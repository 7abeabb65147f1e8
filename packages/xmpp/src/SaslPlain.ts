import { saslprep } from './internal/saslprep.ts';

/** A decoded PLAIN message (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`. */
export interface PlainMessage {
  readonly authzid: string;
  readonly authcid: string;
  readonly password: string;
}

/**
 * Decodes the PLAIN initial response (already base64-decoded) and applies SASLprep to the
 * authentication identity and the password (RFC 4616 §2, RFC 4013). `undefined` when the
 * message is malformed or holds prohibited characters (the server answers `malformed-request`).
 */
export function parsePlain(message: Uint8Array): PlainMessage | undefined {
  const first = message.indexOf(0);
  if (first < 0) return undefined;
  const second = message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) return undefined;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    const authzid = decoder.decode(message.subarray(0, first));
    const authcid = decoder.decode(message.subarray(first + 1, second));
    const password = decoder.decode(message.subarray(second + 1));
    if (authcid === '' || password === '') return undefined;
    return { authzid, authcid: saslprep(authcid), password: saslprep(password) };
  } catch {
    return undefined;
  }
}
