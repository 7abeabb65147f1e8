// The web chat: converse.js (from npm, served here) against the chat server's WebSocket endpoint.
// Start the chat server first (`pnpm start`), then this, and open the printed address.
import { parseArgs } from 'node:util';
import { startWebChat } from './webChat.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'websocket-url': { type: 'string', default: 'ws://127.0.0.1:5280/xmpp-websocket' },
    domain: { type: 'string', default: 'localhost' },
  },
  strict: true,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port: not a port: ${values.port}`);
  process.exit(2);
}
const chat = await startWebChat({
  host: values.host,
  port,
  websocketUrl: values['websocket-url'],
  domain: values.domain,
});
console.log(`otp-chat web chat: ${chat.url} (converse.js, XMPP over ${values['websocket-url']})`);
console.log(`  log in as alice (password alice) or bob (bob) on ${values.domain}; Ctrl-C to stop.`);
process.on('SIGINT', () => void chat.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void chat.close().then(() => process.exit(0)));
