import type { MaybePromise } from '@otp-chat/actor';
import type { XmppServer } from './XmppServer.ts';

/**
 * A server module (ejabberd's `gen_mod`): `start` adds hooks, IQ handlers and commands; `stop`
 * removes them. Modules are started in order after the session manager and stopped in reverse.
 */
export interface XmppModule {
  readonly name: string;
  start(server: XmppServer): MaybePromise<void>;
  stop?(server: XmppServer): MaybePromise<void>;
}
