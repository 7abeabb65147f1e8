import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';

/** Options of {@link startWebChat}. */
export interface WebChatOptions {
  /** The chat server's WebSocket endpoint (RFC 7395). */
  readonly websocketUrl: string;
  /** The XMPP domain: users log in as `alice`, meaning `alice@<domain>`. */
  readonly domain: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** More converse.js settings (`loglevel: 'debug'`, a theme…), over this example's. */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** A running web chat: the page's address. */
export interface WebChat {
  readonly url: string;
  close(): Promise<void>;
}

/** converse.js's built files, from the npm package (no CDN). */
const DIST = dirname(createRequire(import.meta.url).resolve('converse.js/dist/converse.min.js'));

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
};

/** The page: converse.js in full screen, logging in over the WebSocket endpoint only. */
function page(options: WebChatOptions): string {
  const settings = {
    websocket_url: options.websocketUrl,
    discover_connection_methods: false,
    default_domain: options.domain,
    locked_domain: options.domain,
    assets_path: '/converse/',
    view_mode: 'fullscreen',
    authentication: 'login',
    allow_registration: false,
    // No roster server-side yet: chat with any address, and show messages from anyone.
    allow_non_roster_messaging: true,
    auto_reconnect: false,
    i18n: 'en',
    persistent_store: 'sessionStorage',
    show_client_info: false,
    play_sounds: false,
    show_desktop_notifications: false,
    omemo_default: false,
    ...options.settings,
  };
  // `<` escaped: the settings sit inside a <script>.
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>otp-chat web chat</title>
<link rel="stylesheet" href="/converse/converse.min.css">
<style>converse-footer { display: none; }</style>
<script type="module" src="/converse/converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<script type="module">converse.initialize(${json});</script>
</body>
</html>
`;
}

/**
 * Serves converse.js (the npm package's `dist/`, under `/converse/`) and a page that starts it
 * against `websocketUrl`. Only files inside `dist/` are served.
 */
export async function startWebChat(options: WebChatOptions): Promise<WebChat> {
  const html = page(options);
  // Nothing leaves for another origin but the XMPP WebSocket (converse.js's full-screen footer
  // shows its sponsors' logos from conversejs.org: hidden, and blocked here).
  const csp = [
    "default-src 'self'",
    `connect-src 'self' ${new URL(options.websocketUrl).origin.replace(/^http/, 'ws')}`,
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
    "font-src 'self' data:",
  ].join('; ');
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': csp,
      });
      res.end(html);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = path.startsWith('/converse/') ? join(DIST, path.slice('/converse/'.length)) : '';
    if (file === '' || !file.startsWith(DIST + sep) || !isFile(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
