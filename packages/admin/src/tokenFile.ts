import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where a node that generated its token writes it, and where `otp-chat-ctl` looks when it was
 * given none: `~/.otp-chat/admin-<port>.token`, readable by its owner only (the role of Erlang's
 * `~/.erlang.cookie` for ejabberdctl).
 */
export function defaultTokenFile(port: number, home: string = homedir()): string {
  return join(home, '.otp-chat', `admin-${port}.token`);
}
