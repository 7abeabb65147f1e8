// The chat server offers STARTTLS with a self-signed certificate by default, and @xmpp/client takes
// it: the tests' clients trust that certificate, as a user who accepted its fingerprint. Imported
// for its effect by the tests that log in to a chat server started with the default data folder
// (in this process or as a child process: both use the same certificate).
import { readFileSync } from 'node:fs';
import { ensureSelfSignedCertificate } from '@otp-chat/xmpp';
import { trustCertificate } from '@otp-chat/xmpp/testing';
import { DEFAULT_DATA_DIR } from '../../src/startChatServer.ts';

/** The domain and the virtual host the tests serve; each has its own generated certificate. */
for (const host of ['localhost', 'chat.example']) {
  const { files } = await ensureSelfSignedCertificate(DEFAULT_DATA_DIR, host);
  trustCertificate(readFileSync(files.certFile, 'utf8'));
}
