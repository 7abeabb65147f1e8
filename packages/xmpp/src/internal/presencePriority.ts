import type { Element } from '@xmpp/xml';

/** A `<priority/>` that is not an integer: ejabberd refuses the whole presence. */
export const BAD_PRIORITY: unique symbol = Symbol('bad priority');

/**
 * The text of ejabberd's `bad-request` for it (`xmpp_codec:format_error/1` of
 * `{bad_cdata_value, <<>>, <<"priority">>, <<"jabber:client">>}`).
 */
export const PRIORITY_ERROR_TEXT =
  "Bad value of cdata in tag <priority/> qualified by namespace 'jabber:client'";

/**
 * A presence's priority as ejabberd's codec decodes it (processone/xmpp's `presence_priority`,
 * `dec_int/1` over `binary_to_integer/1`): each `<priority/>` of `jabber:client` in turn, the last
 * one winning; an empty one is no priority (`undefined`, which `get_priority_from_presence/1`
 * takes as 0); otherwise an optional sign and ASCII digits, with no bound (no clamping to
 * -128..127) and nothing else (no space, no decimal point): anything else is {@link BAD_PRIORITY}.
 * A value beyond ±`Number.MAX_VALUE` (more than 300 digits), which Erlang keeps as a bignum,
 * saturates there.
 */
export function presencePriority(presence: Element): number | undefined | typeof BAD_PRIORITY {
  let priority: number | undefined;
  for (const child of presence.children) {
    if (typeof child === 'string' || child.name !== 'priority') continue;
    const ns = child.attrs.xmlns;
    if (ns !== undefined && ns !== 'jabber:client') continue;
    const text = child.text();
    if (text === '') {
      priority = undefined;
      continue;
    }
    if (!/^[+-]?[0-9]+$/.test(text)) return BAD_PRIORITY;
    const n = Number(text);
    priority = Number.isFinite(n) ? n + 0 : Math.sign(n) * Number.MAX_VALUE;
  }
  return priority;
}
