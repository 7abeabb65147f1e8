import type { Logger } from '@otp-chat/actor';
import type { Hooks } from '@otp-chat/event-bus';
import type { Jid } from '@otp-chat/jid';
import type { SessionManager } from '@otp-chat/session-manager';
import type { Element } from '@xmpp/xml';
import type { C2SOptions } from '../C2SOptions.ts';
import type { UserStore } from '../UserStore.ts';

/** What a connection actor needs from its server. */
export interface C2SHost {
  readonly sm: SessionManager;
  readonly users: UserStore;
  readonly hooks: Hooks;
  readonly logger: Logger;
  /** Prepared virtual hosts. */
  readonly hosts: readonly string[];
  readonly options: C2SOptions;
  /** `ejabberd_router:route/1` for a stanza whose `to` is already parsed. */
  route(stanza: Element, to: Jid): void;
}
