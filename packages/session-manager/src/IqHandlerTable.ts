import type { MaybePromise } from '@otp-chat/actor';
import type { Element } from '@xmpp/xml';

/**
 * An IQ handler (a `gen_iq_handler` module function): gets the IQ (get/set, exactly one child)
 * and returns the reply to route (a result or an error it built), or `'ignore'` to send nothing.
 * Throwing `IqDecodeError` answers `bad-request`; any other throw answers `internal-server-error`.
 */
export type IqHandler = (iq: Element) => MaybePromise<Element | 'ignore'>;

/**
 * `gen_iq_handler`'s table for the session manager (spec §10): one handler per
 * `(host, namespace)`, the last registration wins, without warning.
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
}
