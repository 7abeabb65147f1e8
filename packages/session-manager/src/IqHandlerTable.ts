import { isThenable, type Logger, type MaybePromise } from '@otp-chat/actor';
import type { Element } from '@xmpp/xml';
import { IqDecodeError } from './errors.ts';
import { makeErrorReply, type StanzaErrorCondition } from './stanzaError.ts';

/**
 * An IQ handler (a `gen_iq_handler` module function): gets the IQ (get/set, exactly one child)
 * and returns the reply to route (a result or an error it built), or `'ignore'` to send nothing.
 * Throwing `IqDecodeError` answers `bad-request`; any other throw answers `internal-server-error`.
 */
export type IqHandler = (iq: Element) => MaybePromise<Element | 'ignore'>;

/** Where {@link IqHandlerTable.handle} sends replies (`ejabberd_router:route/1`) and logs failures. */
export interface IqRouting {
  route(stanza: Element): void;
  readonly logger: Logger;
}

/**
 * `gen_iq_handler`'s table of one component (the session manager's for IQs to a user's bare JID,
 * `ejabberd_local`'s for IQs to a host itself): one handler per `(host, namespace)`, the last
 * registration wins, without warning; {@link handle} dispatches an IQ to it.
 */
export class IqHandlerTable {
  private readonly table = new Map<string, Map<string, IqHandler>>();

  /** `add_iq_handler/5`. */
  register(host: string, ns: string, handler: IqHandler): void {
    let byNs = this.table.get(host);
    if (byNs === undefined) {
      byNs = new Map();
      this.table.set(host, byNs);
    }
    byNs.set(ns, handler);
  }

  /** `remove_iq_handler/3`; false when there was none. */
  unregister(host: string, ns: string): boolean {
    const byNs = this.table.get(host);
    if (byNs === undefined) return false;
    const had = byNs.delete(ns);
    if (byNs.size === 0) this.table.delete(host);
    return had;
  }

  lookup(host: string, ns: string): IqHandler | undefined {
    return this.table.get(host)?.get(ns);
  }

  /** `get_features/2`: every namespace registered for `host`, sorted. */
  features(host: string): string[] {
    return [...(this.table.get(host)?.keys() ?? [])].sort();
  }

  clear(): void {
    this.table.clear();
  }

  /**
   * `gen_iq_handler:handle/2`: an IQ get or set addressed to `lserver` goes to the handler of its
   * child's namespace, whose reply is routed. An IQ result or error is dropped (nothing answers
   * it). Errors routed back to the sender, with ejabberd's texts:
   *
   * | case | error |
   * |---|---|
   * | no child / more than one | `bad-request` "No child elements found" / "Too many child elements" |
   * | no handler for the namespace | `service-unavailable` "No module is handling this query" |
   * | the handler throws or rejects `IqDecodeError` (`{xmpp_codec, Why}`) | `bad-request` with its message |
   * | the handler throws or rejects anything else (logged) | `internal-server-error` "Module failed to handle the query" |
   *
   * A handler that returns neither a stanza nor `'ignore'` is logged and nothing is sent
   * (ejabberd's `try_clause`). Returns a promise only when the handler does.
   */
  handle(iq: Element, lserver: string, routing: IqRouting): MaybePromise<void> {
    const type = iq.attrs.type;
    if (type !== 'get' && type !== 'set') return;
    let child: Element | undefined;
    let count = 0;
    for (const c of iq.children) {
      if (typeof c === 'string') continue;
      count++;
      child = c;
    }
    if (count === 0) return routeError(routing, iq, 'bad-request', 'No child elements found');
    if (count > 1) return routeError(routing, iq, 'bad-request', 'Too many child elements');
    const ns = String(child!.attrs.xmlns ?? '');
    const handler = this.lookup(lserver, ns);
    if (handler === undefined) {
      return routeError(routing, iq, 'service-unavailable', 'No module is handling this query');
    }
    const onResult = (r: Element | 'ignore'): void => {
      if (r === 'ignore') return;
      if (r !== null && typeof r === 'object' && typeof (r as Element).name === 'string') {
        routing.route(r);
        return;
      }
      routing.logger.error(
        { ns, host: lserver, result: r },
        'IQ handler returned neither a stanza nor ignore; no reply sent',
      );
    };
    const onError = (error: unknown): void => {
      if (error instanceof IqDecodeError) {
        routeError(routing, iq, 'bad-request', error.message);
        return;
      }
      routing.logger.error({ err: error, ns, host: lserver }, 'IQ handler failed');
      routeError(routing, iq, 'internal-server-error', 'Module failed to handle the query');
    };
    let result: MaybePromise<Element | 'ignore'>;
    try {
      result = handler(iq);
    } catch (error) {
      return onError(error);
    }
    if (isThenable(result)) return result.then(onResult, onError);
    onResult(result);
  }
}

/** `ejabberd_router:route_error/2`: the error reply, unless the stanza must not be answered. */
function routeError(routing: IqRouting, iq: Element, condition: StanzaErrorCondition, text: string): void {
  const reply = makeErrorReply(iq, condition, text);
  if (reply !== undefined) routing.route(reply);
}
