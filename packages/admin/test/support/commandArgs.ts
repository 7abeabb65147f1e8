import type { CallerKind } from '@otp-chat/event-bus';
import { connectClient, type TestClient } from '@otp-chat/xmpp/testing';
import { type AdminNode, startAdminNode, TOKENS } from './adminNode.ts';

/** The rows of the caller axis of the command tables: a token per caller kind, none for anonymous. */
export const CALLERS: readonly { kind: CallerKind; token: string | undefined }[] = [
  { kind: 'local', token: TOKENS.local },
  { kind: 'admin', token: TOKENS.admin },
  { kind: 'user', token: TOKENS.user },
  { kind: 'anonymous', token: undefined },
];

/** The test node with alice logged in as `alice@localhost/desk`, as {@link validArgs} expects. */
export async function startTableNode(): Promise<{
  node: AdminNode;
  alice: TestClient;
  stop(): Promise<void>;
}> {
  const node = await startAdminNode();
  const alice = await connectClient({
    port: node.xmpp.address.port,
    username: 'alice',
    password: 'alice',
    resource: 'desk',
  });
  return {
    node,
    alice,
    async stop() {
      await alice.stop();
      await node.stop();
    },
  };
}

/**
 * Valid arguments for every command of the test node, for the row `i` of a table (a `register`
 * gets a new account each time). Alice is logged in as `alice@localhost/desk` while they run;
 * nothing here kicks her (the kicks name accounts without sessions).
 */
export function validArgs(command: string, i: number): Record<string, unknown> {
  const alice = { user: 'alice', host: 'localhost' };
  switch (command) {
    case 'connected_users_vhost':
    case 'kick_users':
    case 'registered_users':
      return command === 'kick_users' ? { host: 'nohost.example' } : { host: 'localhost' };
    case 'get_presence':
    case 'num_resources':
    case 'user_resources':
    case 'user_sessions_info':
      return alice;
    case 'kick_user':
      return { user: 'nobody', host: 'localhost' };
    case 'kick_session':
      return { user: 'nobody', host: 'localhost', resource: 'r', reason: 'test' };
    case 'register':
      return { user: `reg${i}`, host: 'localhost', password: 'secret' };
    case 'unregister':
      return { user: `nobody${i}`, host: 'localhost' };
    case 'resource_num':
      return { ...alice, num: 1 };
    case 'set_presence':
      return { ...alice, resource: 'desk', type: 'available', show: 'away', status: 'lunch', priority: 1 };
    case 'status_list':
    case 'status_num':
      return { status: 'available' };
    case 'status_list_host':
    case 'status_num_host':
      return { host: 'localhost', status: 'available' };
    case 'test_open':
      return { echo: 'hi' };
    case 'test_own':
      return { suffix: '!' };
    default:
      return {};
  }
}
